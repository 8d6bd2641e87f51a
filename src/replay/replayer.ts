// Replays a trace: starts the stub, rebuilds the recorded address space, then
// feeds the recorded events to the native replay loop chunk by chunk.
import { TraceReader } from '../history/index.js';
import { decodeEvent, EventKind, eventKindOf } from '../history/events.js';
import { native } from '../native.js';
import { tracerCpu } from './cpu.js';
import { rebuildAddressSpace } from './address-space.js';
import { STUB_BASE, stubPath } from './stub.js';
import { setReg } from './registers.js';
import { syscallName } from './syscall-names.js';
import { encodeSyscallTable } from './syscall-table.js';
import * as fs from 'node:fs';

export type ReplayOutcome =
  | { kind: 'exited'; code: number; events: number }
  | { kind: 'killed'; signal: number; events: number }
  /** the trace ends before the program did (recorder stopped or killed) */
  | { kind: 'incomplete'; reason: string; events: number };

export class DivergenceError extends Error {
  constructor(readonly event: number, readonly expected: string, readonly actual: string) {
    super(`replay diverged from the recording at event ${event}: the recording has ${expected}, the replay made ${actual}`);
  }
}

export interface ReplayHooks {
  /** what the replayed process wrote to fd 1 or 2 */
  onOutput?(fd: number, data: Buffer): void;
}

/** Replaces `syscall 1 (0x1, ...)` with `write(0x1, ...)` in native descriptions. */
function nameCalls(text: string): string {
  return text.replace(/syscall (\d+) \(/g, (_, nr) => `${syscallName(Number(nr))}(`);
}

export class Replayer {
  private pid = 0;
  /** index of the next event to replay */
  private next = 0;
  private readonly table = encodeSyscallTable();

  private constructor(readonly trace: TraceReader) {}

  static async start(trace: TraceReader): Promise<Replayer> {
    const r = new Replayer(trace);
    await r.begin();
    return r;
  }

  get eventIndex(): number {
    return this.next;
  }

  private async begin(): Promise<void> {
    if (this.trace.eventCount === 0) {
      throw new Error(this.trace.truncated
        ? 'the trace is incomplete: it was cut off before its first event was complete'
        : 'the trace holds no events');
    }
    const first = decodeEvent(this.trace.record(0));
    if (first.kind !== 'exec') throw new Error('the trace does not start with an exec event');
    const n = native();
    n.configure({ cpu: tracerCpu() });
    const devnull = fs.openSync('/dev/null', 'r+');
    try {
      this.pid = await n.spawn({ path: stubPath(), argv: ['rewind-stub'], envp: [], trapTsc: true, stdio: [devnull, devnull, devnull] });
    } finally {
      fs.closeSync(devnull);
    }
    try {
      await rebuildAddressSpace(this.pid, this.trace, first.snapshot);
    } catch (e) {
      await this.close();
      throw e;
    }
    this.next = 1;
  }

  /** Replays to the end of the trace. */
  async run(hooks: ReplayHooks = {}): Promise<ReplayOutcome> {
    const n = native();
    const trace = this.trace;
    while (this.next < trace.eventCount) {
      const ci = trace.chunkIndexOf(this.next);
      const chunk = trace.readChunk(ci);
      let offset = chunk.offsets[this.next - chunk.firstRecord];
      const r = await n.replayRun(this.pid, this.table, chunk.data, offset, 0xffffffff);
      for (const e of r.echo) hooks.onOutput?.(e.fd, e.data);
      this.next += r.count;
      offset += r.consumed;
      switch (r.stop.reason) {
        case 'end-of-buffer':
        case 'batch':
          continue;
        case 'exited':
          this.pid = 0;
          return { kind: 'exited', code: Number(r.stop.code), events: this.next };
        case 'killed':
          this.pid = 0;
          return { kind: 'killed', signal: Number(r.stop.signal), events: this.next };
        case 'divergence': {
          const err = new DivergenceError(this.next, nameCalls(String(r.stop.expected)), nameCalls(String(r.stop.actual)));
          await this.close();
          throw err;
        }
        case 'exec':
          await this.replayExec();
          continue;
        case 'need-js': {
          const stopped = await this.handleEvent(trace.record(this.next));
          if (stopped) {
            await this.close();
            return { kind: 'incomplete', reason: stopped, events: this.next };
          }
          this.next++;
          continue;
        }
        default:
          throw new Error(`native replay loop stopped for an unknown reason: ${r.stop.reason}`);
      }
    }
    await this.close();
    const why = trace.truncated
      ? `the trace was cut off after event ${trace.eventCount - 1} (the recorder did not finish)`
      : `the trace ends after event ${trace.eventCount - 1} without the program's exit`;
    return { kind: 'incomplete', reason: why, events: this.next };
  }

  /**
   * The process stands at the entry of an execve that succeeded when recorded:
   * it execs the stub instead, and the exec event that follows rebuilds the new
   * program's recorded address space around it.
   */
  private async replayExec(): Promise<void> {
    const n = native();
    const ev = this.next < this.trace.eventCount ? decodeEvent(this.trace.record(this.next)) : undefined;
    if (ev?.kind !== 'exec') throw new Error(`event ${this.next}: the recording has no exec snapshot after a successful execve`);
    const path = Buffer.from(stubPath() + '\0');
    const argv0 = Buffer.from('rewind-stub\0');
    const scratch = STUB_BASE + 0x800n; // the stub page after its code: the old image goes away anyway
    const argv = Buffer.alloc(24);
    argv.writeBigUInt64LE(scratch + 0x100n, 0);
    await n.writeMemory(this.pid, scratch, path);
    await n.writeMemory(this.pid, scratch + 0x100n, argv0);
    await n.writeMemory(this.pid, scratch + 0x200n, argv);
    const regs = await n.getRegs(this.pid);
    setReg(regs, 'orig_rax', 59n); // execve (the program may have called execveat)
    setReg(regs, 'rdi', scratch);
    setReg(regs, 'rsi', scratch + 0x200n);
    setReg(regs, 'rdx', scratch + 0x210n); // an empty envp: the NULL after argv's NULL
    await n.setRegs(this.pid, regs);
    let stop = await n.resumeAndWait(this.pid, 'syscall', 0);
    if (stop.kind !== 'event') throw new Error(`event ${this.next}: re-exec of the replay stub failed (${stop.kind} ${stop.signal})`);
    stop = await n.resumeAndWait(this.pid, 'syscall', 0);
    if (stop.kind !== 'syscall') throw new Error(`event ${this.next}: no execve return after re-exec of the replay stub`);
    await n.replaySetBrk(this.pid, 0n);
    await rebuildAddressSpace(this.pid, this.trace, ev.snapshot);
    this.next++;
  }

  /** Handles an event the native loop leaves to JS; returns a reason when the recording ends here. */
  private async handleEvent(rec: Buffer): Promise<string | undefined> {
    const ev = decodeEvent(rec);
    switch (ev.kind) {
      case 'map-file': {
        const file = this.trace.file(ev.map.sha);
        const offset = Number(BigInt(ev.map.offset));
        const data = file.subarray(offset, offset + ev.map.size);
        if (data.length) await native().writeMemory(this.pid, BigInt(ev.map.addr), data);
        return undefined;
      }
      case 'stop':
        return ev.reason;
      case 'exec':
        throw new Error(`event ${this.next}: replaying a second exec is not supported yet`);
      default:
        throw new Error(`event ${this.next}: unexpected ${ev.kind} event (kind ${eventKindOf(rec)}) left to the replayer`);
    }
  }

  async close(): Promise<void> {
    if (this.pid) {
      const pid = this.pid;
      this.pid = 0;
      await native().kill(pid).catch(() => undefined);
    }
  }
}
