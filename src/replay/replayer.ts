// Replays a trace headless to its end: feeds the recorded events to the native
// replay loop chunk by chunk, echoing what the replayed process writes to fd 1/2.
import type { TraceReader } from '../history/index.js';
import { native } from '../native/addon.js';
import { encodeSyscallTable } from '../syscalls/table.js';
import { applyJsEvent, divergenceMessage, endOfTraceMessage, firstExec, replayExec, startReplayProcess } from './replay-process.js';

/** `served`: of the events, the buffered calls the program took in-process (docs/syscallbuf.md) */
export type ReplayOutcome =
  | { kind: 'exited'; code: number; events: number; served: number }
  | { kind: 'killed'; signal: number; events: number; served: number }
  /** the trace ends before the program did (recorder stopped or killed) */
  | { kind: 'incomplete'; reason: string; events: number; served: number };

export class DivergenceError extends Error {}

export interface ReplayHooks {
  /** what the replayed process wrote to fd 1 or 2 */
  onOutput?(fd: number, data: Buffer): void;
}

export class Replayer {
  private pid = 0;
  /** index of the next event to replay */
  private next = 0;
  /** events the program replayed in-process from the syscall buffer's feed */
  private served = 0;
  private readonly table = encodeSyscallTable();

  private constructor(readonly trace: TraceReader) {}

  static async start(trace: TraceReader): Promise<Replayer> {
    const r = new Replayer(trace);
    r.pid = await startReplayProcess(trace, firstExec(trace).snapshot);
    r.next = 1;
    return r;
  }

  get eventIndex(): number {
    return this.next;
  }

  /** Replays to the end of the trace. */
  async run(hooks: ReplayHooks = {}): Promise<ReplayOutcome> {
    const n = native();
    const trace = this.trace;
    let prefetched = 0;
    try {
      while (this.next < trace.eventCount) {
        const index = trace.chunkIndexOf(this.next);
        const chunk = trace.readChunk(index);
        const offset = chunk.offsets[this.next - chunk.firstRecord];
        // The loop gets a copy of what it is given: only the records still to replay.
        const running = n.replayRun(this.pid, this.table, chunk.data.subarray(offset), 0, 0xffffffff);
        // It runs on the tracer thread: meanwhile this one decompresses the next chunk (kept by the reader's cache).
        if (index + 1 > prefetched && index + 1 < trace.chunks.length) {
          prefetched = index + 1;
          try {
            trace.readChunk(prefetched);
          } catch {
            // reported when the replay reaches that chunk, with the events before it replayed
          }
        }
        const r = await running;
        for (const e of r.echo) hooks.onOutput?.(e.fd, e.data);
        this.next += r.count;
        this.served += r.served;
        switch (r.stop.reason) {
          case 'end-of-buffer':
          case 'batch':
            continue;
          case 'exited':
            this.pid = 0;
            return { kind: 'exited', code: Number(r.stop.code), events: this.next, served: this.served };
          case 'killed':
            this.pid = 0;
            return { kind: 'killed', signal: Number(r.stop.signal), events: this.next, served: this.served };
          case 'divergence':
            throw new DivergenceError(divergenceMessage(this.next, r.stop.expected, r.stop.actual));
          case 'exec':
            await replayExec(this.pid, trace, this.next);
            this.next++;
            continue;
          case 'need-js': {
            const stopped = await applyJsEvent(this.pid, trace, this.next);
            if (stopped) return { kind: 'incomplete', reason: stopped, events: this.next, served: this.served };
            this.next++;
            continue;
          }
          default:
            throw new Error(`native replay loop stopped for an unknown reason: ${r.stop.reason}`);
        }
      }
      return { kind: 'incomplete', reason: endOfTraceMessage(trace), events: this.next, served: this.served };
    } finally {
      await this.close();
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
