// `rewind pack [TRACE]`: makes a trace self-contained and compact, to move it to
// another machine (src/history/pack.ts).
import { packTrace } from '../history/pack.js';
import { fail, notice } from './output.js';
import { resolveTrace } from './trace-store.js';

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

export function packCommand(argv: { trace?: string }): number {
  try {
    const dir = resolveTrace(argv.trace);
    const r = packTrace(dir);
    notice(`packed ${dir}: ${r.files} files (${r.compressed} compressed), ${mib(r.before)} -> ${mib(r.after)}; it holds no link outside itself`);
    return 0;
  } catch (e) {
    fail((e as Error).message);
  }
}
