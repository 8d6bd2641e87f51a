// node bench/reverse-maps.js [CLI]: reverse-continue to a hot breakpoint across
// events that change the address space (issue 10: "however often the breakpoint is
// hit in between"; docs/timeline.md, "Counting across mapping events"), measured
// with the real gdb against `rewind replay` (run `npm run build` first). The tests'
// hot_maps.c calls hot(n) 300 000 times, then mallocs 64 MiB, grows the heap, maps
// a file, madvises, reallocs, runs a JIT page, dlopens libm, forks and vforks, and
// calls finish(). From finish(): `break hot` and two reverse-continues; then, in a
// session of its own, `break cbrt` (in the library dlopened in between) and `break
// hot`, and two reverse-continues. Each is one gdb command timed by gdb's python;
// the median of TRIALS sessions (a fresh server each). The values of n are
// checked. `monitor stats` says how many hits were trapped. The numbers go into
// docs/benchmarks.md between this script's markers; CLI (another build's
// bin/rewind.js) measures that build instead and prints without writing.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gdbSession } from './gdb-session.js';
import { measuredOn, writeSection } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const other = process.argv[2];
const CLI = other ?? path.join(here, '..', 'bin', 'rewind.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rewind-bench-maps-'));
const TRIALS = Number(process.env.BENCH_REVERSE_TRIALS ?? 3);
const CALLS = 300000;

const exe = path.join(work, 'hot_maps');
execFileSync('cc', ['-g', '-O0', '-o', exe, path.join(here, '..', 'tests', 'programs', 'hot_maps.c')]);
const trace = path.join(work, 'trace');
execFileSync(process.execPath, [CLI, 'record', '-o', trace, '--', exe], { stdio: ['ignore', 'ignore', 'pipe'] });

const SESSIONS = {
  hot: [['break finish', 'continue', 'break hot'], [['rc1', 'reverse-continue'], ['n1', 'print n'], ['rc2', 'reverse-continue'], ['n2', 'print n']], [CALLS - 1, CALLS - 2]],
  lib: [['break finish', 'continue', 'break cbrt', 'break hot'], [['rc1', 'reverse-continue'], ['rc2', 'reverse-continue'], ['n2', 'print n']], [CALLS - 1]],
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (const [name, [setup, timed, want]] of Object.entries(SESSIONS)) {
  const runs = [];
  for (let i = 0; i < TRIALS; i++) {
    const r = await gdbSession({ cli: CLI, trace, exe, setup, timed, after: ['monitor stats'] });
    const ns = [...r.out.matchAll(/^\$\d+ = (\d+)$/gm)].map((m) => Number(m[1]));
    if (ns.join() !== want.join()) throw new Error(`bench/reverse-maps.js: wrong answer in ${name}: ${ns.join()}\n${r.out}`);
    if (name === 'lib' && !/Breakpoint 2, [^\n]*cbrt/.test(r.out)) throw new Error(`bench/reverse-maps.js: the first reverse-continue did not stop in cbrt:\n${r.out}`);
    const trapped = Number(/^trappedHits: (\d+)$/m.exec(r.out)?.[1]);
    runs.push({ ...r.times, trapped });
    process.stderr.write(`${name} trial ${i + 1}: ${timed.filter(([l]) => l.startsWith('rc')).map(([l]) => `${l} ${r.times[l].toFixed(2)} s`).join(', ')}, ${trapped} hits trapped\n`);
  }
  results[name] = Object.fromEntries(['rc1', 'rc2', 'trapped'].map((k) => [k, median(runs.map((r) => r[k]))]));
  results[name].spread = Object.fromEntries(['rc1', 'rc2'].map((k) => [k, runs.map((r) => r[k]).sort((a, b) => a - b)]));
}
fs.rmSync(work, { recursive: true, force: true });

const t = (name, k) => {
  const xs = results[name].spread[k];
  return `${results[name][k].toFixed(2)} s (${xs[0].toFixed(2)}–${xs[xs.length - 1].toFixed(2)})`;
};
const lines = [
  '## Reverse-continue across mapping events',
  '',
  `${measuredOn()} \`node bench/reverse-maps.js\`. The tests' hot_maps.c (300 000 calls of hot(), then a 64 MiB malloc, heap growth, a file mapped, madvise, realloc, a JIT page, dlopen of libm, fork and vfork, then finish()) is debugged from finish(); each time is one gdb command timed by gdb's python: the median of ${TRIALS} sessions, each with a fresh server (min–max in parentheses). The values of n are checked.`,
  '',
  '| session | first reverse-continue | second | hits trapped (median) |',
  '| --- | ---: | ---: | ---: |',
  `| \`break hot\`: the last call, then the one before | ${t('hot', 'rc1')} | ${t('hot', 'rc2')} | ${results.hot.trapped} |`,
  `| \`break cbrt\` (in libm, dlopened after the loop) and \`break hot\`: cbrt's call, then hot's last | ${t('lib', 'rc1')} | ${t('lib', 'rc2')} | ${results.lib.trapped} |`,
];
if (other) process.stdout.write(`${lines.join('\n')}\n`);
else writeSection('bench/reverse-maps.js', 'reverse-maps', lines);
