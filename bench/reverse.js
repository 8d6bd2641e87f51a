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
const N = Number(process.env.BENCH_REVERSE_ITERS ?? 400_000_000);
const SMALL = Number(process.env.BENCH_REVERSE_SMALL ?? 200_000);
const native = timeNative(exe, N);
process.stderr.write(`native run of ${N} iterations: ${native.toFixed(2)} s\n`);
const big = record(exe, N);
const small = record(exe, SMALL);

// 1. reverse-continue to mark(), called every tenth of the run: T = k/10 of the run back
const rc = await session(big, ['break done', 'continue', 'break mark'],
  [1, 2, 3, 4, 5].map((k) => [`rc${k}`, 'reverse-continue']).concat([['stepi0', 'reverse-stepi'], ['stepi1', 'reverse-stepi'], ['stepi2', 'reverse-stepi']]));
// 2. every-iteration breakpoint and watchpoint on a smaller run (one trap per iteration)
const every = await session(small, ['break done', 'continue', 'break revloop.c:9'], [['bp', 'reverse-continue'], ['bp2', 'reverse-continue']]);
const watch = await session(small, ['break done', 'continue', 'watch g'], [['watch', 'reverse-continue'], ['watch2', 'reverse-continue']]);

const f = (x) => (x === undefined ? 'n/a' : `${x.toFixed(3)} s`);
writeSection('bench/reverse.js', 'reverse', [
  '## Reverse execution',
  '',
  `${measuredOn()} `
    + `\`node bench/reverse.js\`. The program updates a global every iteration; ${N} iterations take ${native.toFixed(2)} s natively, all in one interval (no syscalls). `
    + 'gdb stands at the end (`break done`); each time is one gdb command, timed by gdb, including its packets.',
  '',
  '| command | T back (share of the run) | time |',
  '| --- | ---: | ---: |',
  ...[1, 2, 3, 4, 5].map((k) => `| reverse-continue to \`mark\` (hit every tenth of the run) | ${k / 10} x ${native.toFixed(2)} s = ${((k / 10) * native).toFixed(2)} s | ${f(rc.times[`rc${k}`])} |`),
  `| reverse-stepi at a \`mark\` hit (first, second, third) | one instruction | ${f(rc.times.stepi0)}, ${f(rc.times.stepi1)}, ${f(rc.times.stepi2)} |`,
  `| reverse-continue to a breakpoint hit every iteration (${SMALL} iterations) | one iteration | ${f(every.times.bp)}, then ${f(every.times.bp2)} |`,
  `| reverse-continue to the last write of the watched global (${SMALL} iterations) | one iteration | ${f(watch.times.watch)}, then ${f(watch.times.watch2)} |`,
  '',
  `Checkpoints after the first session: ${rc.checkpoints} processes, ${rc.resident.toFixed(1)} MiB resident in total (pages are shared copy-on-write, so real use is lower).`,
  '',
  'Reading: a search replays from the start of the interval that holds the target at native speed plus one trap per breakpoint or watchpoint hit on the way (about 5-30 us each), so within one long interval the time is that of the replay so far, not of T; a checkpoint at every stop makes the following commands cheaper when they land close to one.',
]);
fs.rmSync(work, { recursive: true, force: true });
