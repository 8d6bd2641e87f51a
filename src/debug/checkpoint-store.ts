// The checkpoints of one replay: every record ever made (names of points refer to
// them), and the processes of the most recently used ones, in an LRU bounded in
// count and resident memory. A checkpoint owns its process copy (the Tracees of all
// its threads: process-copy.ts); a dropped one keeps its record with pid 0 and no copy.
import * as fs from 'node:fs';
import { LRUCache } from 'lru-cache';
import type { ProcessCopy } from './process-copy.js';
import type { Checkpoint, Mark } from './marks.js';

export const MAX_CHECKPOINTS = 256;
export const MAX_CHECKPOINT_BYTES = 8 * 1024 ** 3;

export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export class CheckpointStore {
  private seq = 0;
  private readonly records = new Map<number, Checkpoint>();
  /** the start of the replay: never dropped */
  root: Checkpoint | undefined;
  private readonly live: LRUCache<number, Checkpoint>;

  constructor(private readonly drop: (copy: ProcessCopy) => Promise<void>) {
    this.live = new LRUCache<number, Checkpoint>({
      max: MAX_CHECKPOINTS,
      maxSize: MAX_CHECKPOINT_BYTES,
      sizeCalculation: (c) => Math.max(1, c.bytes),
      dispose: (c) => {
        const copy = c.copy;
        c.pid = 0;
        c.copy = undefined;
        if (copy) void this.drop(copy);
      },
    });
  }

  /** Records a new checkpoint for the process `copy` standing at mark; the store owns the copy now. */
  add(copy: ProcessCopy, mark: Mark, boundary: boolean, t: number, counts = new Map<bigint, number>(), watchHits?: number, slice?: Checkpoint['slice']): Checkpoint {
    const pid = copy.tracee.pid;
    const c: Checkpoint = { id: ++this.seq, pid, copy, mark, boundary, counts, watchHits, t, slice, bytes: rssBytes(pid) };
    this.records.set(c.id, c);
    if (!this.root) this.root = c;
    else this.live.set(c.id, c);
    return c;
  }

  /** A dropped checkpoint gets a process again. */
  revive(c: Checkpoint, copy: ProcessCopy): void {
    c.pid = copy.tracee.pid;
    c.copy = copy;
    c.bytes = rssBytes(copy.tracee.pid);
    if (c !== this.root) this.live.set(c.id, c);
  }

  /** Drops a checkpoint's process now (its record stays). */
  release(c: Checkpoint): void {
    if (c !== this.root && c.pid) this.live.delete(c.id); // dispose kills it
  }

  get(id: number): Checkpoint | undefined {
    return this.records.get(id);
  }

  /** Marks a checkpoint as just used. */
  touch(c: Checkpoint): void {
    if (c !== this.root && c.pid) this.live.get(c.id);
  }

  /** The checkpoints that have a process. */
  alive(): Checkpoint[] {
    return [...(this.root?.pid ? [this.root] : []), ...[...this.live.values()].sort((a, b) => a.id - b.id)];
  }

  /** The newest live checkpoint that satisfies pred. */
  find(pred: (c: Checkpoint) => boolean): Checkpoint | undefined {
    let best: Checkpoint | undefined;
    for (const c of this.alive()) if (pred(c) && (!best || c.id > best.id)) best = c;
    return best;
  }

  /** Kills every process and forgets every record. */
  async clear(): Promise<void> {
    const all = this.alive();
    this.live.clear(); // dispose kills
    const root = this.root;
    this.root = undefined;
    this.records.clear();
    if (root?.copy) await this.drop(root.copy);
    await Promise.all(all.filter((c) => c !== root && c.copy).map((c) => this.drop(c.copy!)));
  }
}
