// The timeline the page draws: one entry per event of a trace worth showing on the
// time axis (syscalls, signals, execs, exits, the trace's end), and the program's
// output lines, each with the event number of the write that printed it.
//
// The trace stores only a checksum of what a write sent, not the bytes, so the text
// comes from replaying the trace headless (as `replay --check` does) and pairing the
// loop's echoes, in order, with the trace's writes to fd 1 and 2: the loop echoes
// exactly the successful echo-flagged calls on those fds, one echo each, so the two
// lists are the same length, and a mismatch is an error, not a guess.
import type { TraceReader } from '../history/index.js';
import { decodeEvent, type TraceEvent } from '../history/events.js';
import { Replayer } from '../replay/replayer.js';
import { RowFlag } from '../syscalls/abi.js';
import { SYSCALL_SPECS } from '../syscalls/specs.js';
import { syscallName } from '../syscalls/names.js';
import { describeEvent } from '../cli/dump-command.js';

export type TimelineKind = 'syscall' | 'signal' | 'exec' | 'exit' | 'stop' | 'output' | 'process';

export interface TimelineEvent {
  /** the event's number in the trace (what `monitor seek` takes) */
  index: number;
  tid: number;
  kind: TimelineKind;
  /** a short name for the axis: the syscall's name, the signal's, `exec` */
  name: string;
  /** the event as `rewind dump` prints it */
  detail: string;
}

export interface OutputLine {
  /** the event number of the write that printed (the end of) this line */
  index: number;
  fd: number;
  text: string;
}

export interface Timeline {
  eventCount: number;
  events: TimelineEvent[];
  output: OutputLine[];
}

const ECHOED = new Set(
  Object.entries(SYSCALL_SPECS).filter(([, spec]) => ((spec.flags ?? 0) & RowFlag.Echo) !== 0).map(([name]) => name),
);

/** Whether the replay loop echoes this event: a successful write-like call to fd 1 or 2. */
function isEchoedWrite(e: TraceEvent): e is Extract<TraceEvent, { kind: 'syscall' }> {
  if (e.kind !== 'syscall' || !ECHOED.has(syscallName(e.nr))) return false;
  const fd = Number(e.args[0] & 0xffffffffn);
  return (fd === 1 || fd === 2) && BigInt.asIntN(64, e.result) > 0n && e.checkLen > 0;
}

/** calls that start a process or a thread (its children run unrecorded: the trace has only the call) */
const STARTS = new Set(['fork', 'vfork', 'clone', 'clone3']);
const CLONE_THREAD = 0x10000n;

function axisEntry(index: number, e: TraceEvent): TimelineEvent | undefined {
  const base = { index, tid: e.tid, detail: describeEvent(e) };
  switch (e.kind) {
    case 'syscall': {
      const name = syscallName(e.nr);
      if (STARTS.has(name) && BigInt.asIntN(64, e.result) > 0n) {
        const thread = name === 'clone' && (e.args[0] & CLONE_THREAD) !== 0n;
        return { ...base, kind: 'process', name: `${thread ? 'thread' : 'process'} ${e.result} starts` };
      }
      return { ...base, kind: isEchoedWrite(e) ? 'output' : 'syscall', name };
    }
    case 'signal':
      return { ...base, kind: 'signal', name: describeEvent(e).split(' ')[1] ?? 'signal' };
    case 'async-point':
      return { ...base, kind: 'signal', name: describeEvent(e).split(' ')[0] };
    case 'exec':
      return { ...base, kind: 'exec', name: 'exec' };
    case 'exit':
      return { ...base, kind: 'exit', name: e.killed ? 'killed' : 'exit' };
    case 'stop':
      return { ...base, kind: 'stop', name: 'stop' };
    default:
      // rdtsc, cpuid, mappings and file data are not moments a user looks for
      return undefined;
  }
}

/** Splits the echoed writes into lines, each line at the write that ended it. */
export function outputLines(writes: { index: number; fd: number; data: Buffer }[]): OutputLine[] {
  const lines: OutputLine[] = [];
  const partial = new Map<number, string>();
  for (const w of writes) {
    const parts = ((partial.get(w.fd) ?? '') + w.data.toString('utf8')).split('\n');
    partial.set(w.fd, parts.pop()!);
    for (const text of parts) lines.push({ index: w.index, fd: w.fd, text });
  }
  // a last line without its newline is still output; it ends at the last write to its fd
  for (const [fd, text] of partial) {
    if (!text) continue;
    const last = writes.filter((w) => w.fd === fd).at(-1)!;
    lines.push({ index: last.index, fd, text });
  }
  return lines.sort((a, b) => a.index - b.index);
}

/** Reads the trace's events and replays it once for the output's text. */
export async function buildTimeline(trace: TraceReader): Promise<Timeline> {
  const events: TimelineEvent[] = [];
  const writes: { index: number; fd: number }[] = [];
  for (const { index, record } of trace.records(0)) {
    const e = decodeEvent(record);
    const entry = axisEntry(index, e);
    if (entry) events.push(entry);
    if (entry?.kind === 'output') writes.push({ index, fd: Number((e as { args: bigint[] }).args[0] & 0xffffffffn) });
  }
  const echoes: { fd: number; data: Buffer }[] = [];
  const replayer = await Replayer.start(trace);
  await replayer.run({ onOutput: (fd, data) => echoes.push({ fd, data }) });
  if (echoes.length !== writes.length || echoes.some((e, i) => e.fd !== writes[i].fd)) {
    throw new Error(`the replay echoed ${echoes.length} writes to fd 1 and 2, the trace records ${writes.length}: cannot tell which write printed what`);
  }
  return {
    eventCount: trace.eventCount,
    events,
    output: outputLines(writes.map((w, i) => ({ ...w, data: echoes[i].data }))),
  };
}
