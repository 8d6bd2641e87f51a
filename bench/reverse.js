// node bench/reverse.js: reverse execution costs, measured with the real gdb
// against `rewind replay` (run `npm run build` first). A CPU loop that updates a
// global every iteration is recorded and debugged from its end; gdb's own python
// times each command. The numbers go into docs/benchmarks.md between this script's
// markers (other sections are kept). Never asserted in tests.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measuredOn, writeSection } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '..', 'bin', 'rewind.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rewind-bench-rev-'));

const SOURCE = `
#include <stdlib.h>
volatile long g;
void mark(long i) { g ^= i; }
__attribute__((noinline)) void done(void) { __asm__ volatile(""); }
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  for (long i = 0; i < n; i++) {
    g = g * 31 + i;
    if (i % (n / 10) == n / 10 - 1) mark(i);
  }
  done();
  return (int)(g & 1);
}
`;

function build() {
  const src = path.join(work, 'revloop.c');
  fs.writeFileSync(src, SOURCE);
  const exe = path.join(work, 'revloop');
  execFileSync('cc', ['-g', '-O0', '-o', exe, src]);
  return exe;
}

function timeNative(exe, n) {
  const t = process.hrtime.bigint();
  try {
    execFileSync(exe, [String(n)]);
  } catch {
    // the exit status is the low bit of g
  }
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function record(exe, n) {
  const trace = path.join(work, `trace-${n}`);
  execFileSync(process.execPath, [CLI, 'record', '-o', trace, '--', exe, String(n)], { stdio: ['ignore', 'ignore', 'pipe'] });
  return trace;
}

/** Runs gdb against a served trace; `timed` commands are timed by gdb's python. */
async function session(trace, setup, timed) {
  const server = spawn(process.execPath, [CLI, 'replay', trace, '--port', '0', '--once'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no port:\n${err}`)), 20000);
    server.stderr.on('data', (d) => {
      err += d;
      const m = /127\.0\.0\.1:(\d+)/.exec(err);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  const args = ['-batch', '-nx', '-ex', 'set pagination off', '-ex', `target remote 127.0.0.1:${port}`];
  for (const c of setup) args.push('-ex', c);
  for (const [label, c] of timed) {
    args.push('-ex', 'python import time; _t = time.time()', '-ex', c,
      '-ex', `python print("TIME ${label} %.4f" % (time.time() - _t))`);
  }
  args.push('-ex', 'monitor checkpoints');
  try {
    const r = spawnSync('gdb', args, { encoding: 'utf8', timeout: 1_200_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = `${r.stdout}\n${r.stderr}`;
    const times = {};
    for (const m of out.matchAll(/^TIME (.+) ([\d.]+)$/gm)) times[m[1]] = Number(m[2]);
    let resident = 0;
    let count = 0;
    for (const m of out.matchAll(/, ([\d.]+) MiB resident$/gm)) {
      resident += Number(m[1]);
      count++;
    }
    return { times, out, checkpoints: count, resident };
  } finally {
    server.kill('SIGKILL');
  }
}

const exe = build();
const N = Number(process.env.BENCH_REVERSE_ITERS ?? 1_500_000_000);
const native = timeNative(exe, N);
process.stderr.write(`native run of ${N} iterations: ${native.toFixed(2)} s\n`);
const big = record(exe, N);

// Every session stands at the end of the run (`break done`) first.
// 1. reverse-continue to mark(), called every tenth of the run: T = k/10 of the run back;
//    then reverse-stepi at a mark hit
// Each session runs TRIALS times (a fresh server each time); the median time is reported.
const TRIALS = Number(process.env.BENCH_REVERSE_TRIALS ?? 3);
async function trials(setup, timed) {
  const runs = [];
  for (let i = 0; i < TRIALS; i++) runs.push(await session(big, setup, timed));
  const times = {};
  const spread = {};
  for (const [label] of timed) {
    const xs = runs.map((r) => r.times[label]).filter((x) => x !== undefined).sort((a, b) => a - b);
    times[label] = xs.length === runs.length ? xs[Math.floor(xs.length / 2)] : undefined;
    spread[label] = xs;
  }
  return { ...runs[0], runs, times, spread };
}
const rc = await trials(['break done', 'continue', 'break mark'],
  [1, 2, 3, 4, 5].map((k) => [`rc${k}`, 'reverse-continue']).concat([['stepi0', 'reverse-stepi'], ['stepi1', 'reverse-stepi'], ['stepi2', 'reverse-stepi']]));
// 2. a breakpoint hit on every iteration, and a watchpoint on the global written every iteration
const every = await trials(['break done', 'continue', 'break revloop.c:9'], [['bp', 'reverse-continue'], ['bp2', 'reverse-continue']]);
const watch = await trials(['break done', 'continue', 'watch g'], [['watch', 'reverse-continue'], ['watch2', 'reverse-continue']]);
// the answers must be right, not only quick
const iters = (out) => [...out.matchAll(/i=(\d+)/g)].map((m) => Number(m[1]));
const check = (ok, what) => {
  if (!ok) throw new Error(`bench/reverse.js: wrong answer: ${what}`);
};
for (const r of rc.runs) check(JSON.stringify(iters(r.out).slice(0, 5)) === JSON.stringify([1, 2, 3, 4, 5].map((k) => N - (k - 1) * (N / 10) - 1)), `mark hits ${iters(r.out)}`);
for (const r of every.runs) check(/Breakpoint 2, main .*revloop\.c:9/.test(r.out), 'the every-iteration breakpoint');
for (const r of watch.runs) check((r.out.match(/Old value = /g) ?? []).length === 2, 'the watchpoint');

const f = (x) => (x === undefined ? 'n/a' : `${x.toFixed(3)} s`);
const range = (xs) => (xs.length ? ` (${xs[0].toFixed(2)}–${xs[xs.length - 1].toFixed(2)})` : '');
const met = (x, target) => (x === undefined ? 'n/a' : x <= target ? 'yes' : 'no');
const rows = [1, 2, 3, 4, 5].map((k) => {
  const T = (k / 10) * native;
  const target = 1.5 * T + 1;
  return `| reverse-continue to \`mark\`, T = ${k / 10} of the run back | ${T.toFixed(2)} s | ≤ ${target.toFixed(2)} s | ${f(rc.times[`rc${k}`])}${range(rc.spread[`rc${k}`])} | ${met(rc.times[`rc${k}`], target)} |`;
});
writeSection('bench/reverse.js', 'reverse', [
  '## Reverse execution',
  '',
  `${measuredOn()} `
    + `\`node bench/reverse.js\`. The program updates a global every iteration and calls \`mark\` every tenth of the run; ${N} iterations take ${native.toFixed(2)} s natively, all in one interval (no syscalls). `
    + `gdb stands at the end (\`break done\`, \`continue\`); each time is one gdb command, timed by gdb's python, packets included: the median of ${TRIALS} sessions, each with a fresh server (min–max in parentheses). The targets are the ones of issue 4.`,
  '',
  '| command | T back | target | time | met? |',
  '| --- | ---: | ---: | ---: | --- |',
  ...rows,
  `| reverse-stepi at a \`mark\` hit (first, second, third) | one instruction | ≤ 0.25 s | ${f(rc.times.stepi0)}, ${f(rc.times.stepi1)}, ${f(rc.times.stepi2)} | ${met(Math.max(rc.times.stepi0 ?? Infinity, rc.times.stepi1 ?? Infinity, rc.times.stepi2 ?? Infinity), 0.25)} |`,
  `| reverse-continue to a breakpoint hit every iteration (first, second) | one iteration | ≤ 2 s | ${f(every.times.bp)}${range(every.spread.bp)}, ${f(every.times.bp2)} | ${met(Math.max(every.times.bp ?? Infinity, every.times.bp2 ?? Infinity), 2)} |`,
  `| reverse-continue to the last write of the watched global (first, second) | one iteration | ≤ 2 s | ${f(watch.times.watch)}${range(watch.spread.watch)}, ${f(watch.times.watch2)} | ${met(Math.max(watch.times.watch ?? Infinity, watch.times.watch2 ?? Infinity), 2)} |`,
  '',
  `Checkpoints at the end of the first \`mark\` session: ${rc.checkpoints} processes, ${rc.resident.toFixed(1)} MiB resident in total (pages are shared copy-on-write, so real use is lower).`,
  '',
  'Reading: the forward `continue` leaves a copy of the process every 50 ms of replay. A reverse-continue first narrows the stretch between the closest copy and the current point with runs that trap only on the current point, leaving copies ever closer to it (down to tens of microseconds), then searches windows that end at the current point, each about twice as long as the last, with gdb\'s traps armed. So the cost follows the distance to the answer, not the length of the run, and a breakpoint hit every iteration costs one narrowing plus a few thousand traps. See docs/timeline.md.',
]);
fs.rmSync(work, { recursive: true, force: true });
