// `rewind ps [TRACE]`: the processes of a recording, one a line: pid, parent,
// how it ended, how many threads it had, command line (docs/usage.md).
import { TraceReader } from '../history/index.js';
import { recordedProcesses } from '../replay/process-tree.js';
import { writeAllSync } from './output.js';
import { resolveTrace } from './trace-store.js';
import { signalName } from './signals.js';

export function psCommand(argv: { trace?: string }): number {
  const trace = TraceReader.open(resolveTrace(argv.trace));
  try {
    const rows = recordedProcesses(trace).map((p) => [
      String(p.pid),
      p.parent ? String(p.parent) : '-',
      !p.end ? (p.unrecordedAfter !== undefined ? `unrecorded after event ${p.unrecordedAfter}` : 'running') : p.end.killed ? `killed by ${signalName(p.end.code)}` : `exit ${p.end.code}`,
      String(1 + (p.threads?.length ?? 0)),
      p.argv.join(' '),
    ]);
    const head = ['PID', 'PARENT', 'END', 'THREADS', 'COMMAND'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ') + '\n';
    writeAllSync(1, Buffer.from([head, ...rows].map(line).join('')));
    return 0;
  } finally {
    trace.close();
  }
}
