// Names of points in a replay without a branch counter (docs/timeline.md): the n-th
// arrival at a pc since a base (the start of an interval, or a checkpoint), then a
// number of single-steps. Pure data and the arithmetic that renames a point
// relative to another base; no process is touched here.
import type { ProcessCopy } from './process-copy.js';

export interface Mark {
  /** the interval: the index of the next event to replay */
  e: number;
  /** where counting starts: 0 = the start of interval e, else the id of a checkpoint in interval e */
  base: number;
  pc: bigint;
  /** the n-th arrival at pc since the base (the base state is arrival 1 at its pc); 0: unknown, fp names it */
  n: number;
  steps: number;
  /** the arrival state's fingerprint (registers, top of the stack): names it when n is unknown */
  fp?: Buffer;
}

export interface Checkpoint {
  id: number;
  /** the stopped copy's pid; 0 once it was dropped (the record stays: names refer to it) */
  pid: number;
  /** the stopped copy itself, every thread of it (undefined once dropped): the checkpoint owns it */
  copy?: ProcessCopy;
  /** where it stands, named relative to an earlier base */
  mark: Mark;
  /** it is the start of interval mark.e */
  boundary: boolean;
  /** exact arrivals at these pcs before its state, counted from mark.base */
  counts: Map<bigint, number>;
  /** data-watch triggers before its state, counted from mark.base (when known) */
  watchHits?: number;
  /** resident size when taken (shared copy-on-write with the others) */
  bytes: number;
  /** replay run time from the start of the replay to it (ns, the run clock: the process's CPU time, docs/load.md), as measured: an estimate, only for choosing */
  t: number;
  /** a copy a run left on the way (a slice): which run, its run time then, the search hits recorded before it */
  slice?: { run: number; ran: number; seq: number };
}

export function sameMark(a: Mark, b: Mark): boolean {
  if (a.e !== b.e || a.base !== b.base || a.pc !== b.pc || a.steps !== b.steps || a.n !== b.n) return false;
  return a.n !== 0 || (a.fp !== undefined && b.fp !== undefined && a.fp.equals(b.fp));
}

/** The counts reading of a checkpoint: arrival n at pc relative to its base, as seen from the checkpoint. */
export function raise(m: Mark, c: Checkpoint): Mark | undefined {
  if (c.mark.e !== m.e || c.mark.base !== m.base) return undefined;
  if (m.n === 0) return m.fp ? { ...m, base: c.id } : undefined;
  const k = c.counts.get(m.pc);
  if (k === undefined || m.n - k < 1) return undefined;
  return { ...m, base: c.id, n: m.n - k };
}

/** m, named relative to a checkpoint, named relative to that checkpoint's own base. */
export function lower(m: Mark, c: Checkpoint): Mark | undefined {
  if (m.base !== c.id) return undefined;
  if (m.n === 0) return m.fp ? { ...m, base: c.mark.base } : undefined;
  const k = c.counts.get(m.pc);
  return k === undefined ? undefined : { ...m, base: c.mark.base, n: m.n + k };
}

/**
 * m renamed relative to `to` (a checkpoint known to come before m, or 0 for the
 * start of m's interval): down through m's bases to one that `to` counts from,
 * directly or through its own bases, then up through those.
 */
export function rename(m: Mark, to: Checkpoint | 0, get: (id: number) => Checkpoint | undefined): Mark | undefined {
  const toId = to === 0 ? 0 : to.id;
  const chain: Checkpoint[] = []; // to, its base, its base's base, ... (within one interval)
  for (let c = to === 0 ? undefined : to; c && chain.length < 10000; c = c.mark.base ? get(c.mark.base) : undefined) chain.push(c);
  let cur: Mark | undefined = m;
  for (let guard = 0; cur && guard < 10000; guard++) {
    const b = cur.base;
    if (b === 0 || chain.some((c) => c.id === b)) break;
    const c = get(b);
    cur = c && lower(cur, c);
  }
  if (cur) {
    const b = cur.base;
    let i = b === 0 ? chain.length : chain.findIndex((c) => c.id === b);
    while (cur && --i >= 0) cur = raise(cur, chain[i]);
    if (cur && cur.base === toId && (cur.n || cur.fp)) return cur;
  }
  // a fingerprint names the state from any earlier base in its interval
  if (m.fp && (to === 0 || to.mark.e === m.e)) return { ...m, base: toId, n: 0 };
  return undefined;
}

export function describeMark(m: Mark): string {
  const at = m.n ? `arrival ${m.n} at 0x${m.pc.toString(16)}` : `the state fingerprinted at 0x${m.pc.toString(16)}`;
  const from = m.base ? `checkpoint #${m.base}` : 'the interval start';
  return `${at} since ${from} after event ${m.e - 1}${m.steps ? ` + ${m.steps} steps` : ''}`;
}
