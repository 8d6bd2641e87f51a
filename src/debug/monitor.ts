// rewind's `monitor` commands: each returns the lines to show; the protocol layer
// only frames them. They read the session through this small view.
import type { TraceReader } from '../history/index.js';
import { describeMark, type Checkpoint, type Mark } from './marks.js';
import type { StopEvent } from './target.js';

export interface MonitoredSession {
  readonly trace: TraceReader;
  /** the index of the next event to replay */
  readonly eventIndex: number;
  position(): Mark | undefined;
  checkpoints(): Checkpoint[];
  /** the engine's counts of what it did (forward.ts, ReplayedProcess.stats) */
  readonly stats: Readonly<Record<string, number>>;
  seek(event: number, replayed?: (next: number) => void): Promise<StopEvent>;
  restart(): Promise<StopEvent>;
}

export const MONITOR_HELP = [
  'rewind monitor commands:',
  '  monitor help          this text',
  '  monitor when          the current event number',
  '  monitor info          program, arguments, events, exit',
  '  monitor seek EVENT    replay to just after event EVENT (from the start if it is behind)',
  '  monitor restart       start the replay again from the beginning',
  '  monitor position      the current point in time: arrival N at PC after event E (+ steps)',
  '  monitor checkpoints   the checkpoints (forked copies of the replay) kept for going back',
  '  monitor stats         what the engine did so far: runs, checkpoints, arrivals counted in the process, hits trapped',
  'After seek and restart, run `maintenance flush register-cache` so gdb rereads the state.',
];

function outcomeText(end: Record<string, unknown> | null): string {
  const outcome = end?.outcome as { kind?: string; code?: number; signal?: number; reason?: string } | undefined;
  if (!outcome) return 'unknown';
  if (outcome.kind === 'exited') return `exited with status ${outcome.code}`;
  if (outcome.kind === 'killed') return `killed by signal ${outcome.signal}`;
  return `recording stopped: ${outcome.reason}`;
}

/**
 * A seek's progress as lines, at most one per tenth of the way: "seek: 30% (event 300
 * of 1000)". Counted in events, so the same seek reports the same lines on any machine.
 * The first call says where the run starts (a seek back starts at a checkpoint).
 */
export function seekProgress(to: number, show: (line: string) => void): (next: number) => void {
  let shown = 0;
  let from: number | undefined;
  return (next) => {
    if (from === undefined) {
      from = next - 1;
      return;
    }
    const tenths = Math.floor(((next - 1 - from) * 10) / Math.max(1, to - from));
    if (tenths <= shown || tenths >= 10) return;
    shown = tenths;
    show(`seek: ${tenths * 10}% (event ${next - 1} of ${to})`);
  };
}

/** Runs one monitor command; PROGRESS gets the lines a long one shows while it runs. */
export async function monitorCommand(s: MonitoredSession, command: string, progress?: (line: string) => void): Promise<string[]> {
  const words = command.trim().split(/\s+/);
  const current = () => Math.max(0, s.eventIndex - 1);
  switch (words[0]) {
    case '':
    case 'help':
      return MONITOR_HELP;
    case 'when':
      return [`Current event: ${current()}`];
    case 'position': {
      const m = s.position();
      return [m ? `Current position: ${describeMark(m)}` : 'the position is not named yet (it is when a reverse command needs it), or was reached by an interrupt'];
    }
    case 'checkpoints': {
      const all = s.checkpoints();
      return [
        `${all.length} checkpoints:`,
        ...all.map((c) => `  #${c.id} pid ${c.pid} after event ${c.mark.e - 1}, ${c.boundary ? 'interval start' : describeMark(c.mark)}, ${(c.bytes / 1048576).toFixed(1)} MiB resident${c.copy?.threads?.size ? `, ${c.copy.threads.size + 1} threads` : ''}`),
      ];
    }
    case 'stats':
      return Object.entries(s.stats).map(([k, v]) => `${k}: ${v}`);
    case 'info': {
      const meta = s.trace.meta as Record<string, unknown>;
      return [
        `program: ${String(meta.path ?? meta.program ?? '?')}`,
        `args: ${JSON.stringify(meta.args ?? [])}`,
        `events: ${s.trace.eventCount}${s.trace.complete ? '' : ' (incomplete trace)'}`,
        `exit: ${outcomeText(s.trace.end as Record<string, unknown> | null)}`,
        `current event: ${current()}`,
      ];
    }
    case 'seek': {
      const n = Number(words[1]);
      if (!Number.isInteger(n) || n < 0) return ['usage: monitor seek EVENT'];
      if (n >= s.trace.eventCount) return [`the trace has events 0 to ${s.trace.eventCount - 1}`];
      const stop = await s.seek(n, progress && seekProgress(n, progress));
      if (stop.kind === 'stopped') return [`at event ${current()}`];
      if (stop.kind === 'end') return [stop.message];
      return [`the program ${stop.kind === 'exited' ? `exited with status ${stop.code}` : `was killed by signal ${stop.signal}`} before event ${n}`];
    }
    case 'restart':
      await s.restart();
      return ['restarted at event 0'];
    default:
      return [`unknown monitor command '${words[0]}' (try: monitor help)`];
  }
}
