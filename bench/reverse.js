// node bench/reverse.js: reverse execution costs, measured with the real gdb
// against `rewind replay` (run `npm run build` first). A CPU loop that updates a
// global every iteration is recorded and debugged from its end; gdb's own python
// times each command. Every session runs on an idle machine and again with two
// CPU hogs running, side by side: the answers must be the same. The numbers go
// into docs/benchmarks.md between this script's markers (other sections are
// kept). Never asserted in tests.
// Environment: BENCH_REVERSE_ITERS (the loop's length, 1e9), BENCH_REVERSE_TRIALS
// (sessions per row, 3), BENCH_REVERSE_SESSIONS (which of rc, every, watch; all),
// BENCH_CLI (the rewind.js to measure; this checkout's), BENCH_COMPARE (another
// checkout's bin/rewind.js: every trial runs it and BENCH_CLI in turn, on the same
// recording, and a table of both goes to stdout instead of docs/benchmarks.md),
// BENCH_LOGS (a directory: each session's gdb output and server log are kept there;
// with REWIND_TRACE_RUNS=times the server says where a slow command's time went).
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gdbSession } from './gdb-session.js';
import { measuredOn, writeSection } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = process.env.BENCH_CLI ?? path.join(here, '..', 'bin', 'rewind.js');
const BASE_CLI = process.env.BENCH_COMPARE;
/** the builds measured, each trial in this order: the one compared against first */
const CLIS = BASE_CLI ? [BASE_CLI, CLI] : [CLI];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rewind-bench-rev-'));

const SOURCE = `
#include <stdlib.h>
volatile long g, h;
void mark(long i) { g ^= i; }
__attribute__((noinline)) void done(void) { __asm__ volatile(""); }
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  for (long i = 0; i < n; i++) {
    g = g * 31 + i;
    if ((i & 65535) == 0) h = i;
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
let sessionsRun = 0;
async function session(cli, trace, setup, timed) {
  const { times, out, server } = await gdbSession({ cli, trace, setup, timed, after: ['monitor checkpoints'] });
  if (process.env.BENCH_LOGS) {
    const name = path.join(process.env.BENCH_LOGS, `${String(++sessionsRun).padStart(3, '0')}-${cli === CLI ? 'cli' : 'compare'}-${timed[0][0]}`);
    fs.writeFileSync(`${name}.gdb`, out);
    fs.writeFileSync(`${name}.server`, server);
  }
  let resident = 0;
  let count = 0;
  for (const m of out.matchAll(/, ([\d.]+) MiB resident$/gm)) {
    resident += Number(m[1]);
    count++;
  }
  return { times, out, checkpoints: count, resident };
}

const exe = build();
const N = Number(process.env.BENCH_REVERSE_ITERS ?? 1_000_000_000);
const native = timeNative(exe, N);
process.stderr.write(`native run of ${N} iterations: ${native.toFixed(2)} s\n`);
const big = record(exe, N);

/** Two busy loops for the length of fn: the machine under load. */
async function underLoad(fn) {
  const hogs = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
  try {
    return await fn();
  } finally {
    for (const h of hogs) h.kill('SIGKILL');
  }
}

// Each session runs TRIALS times (a fresh server each time; with BENCH_COMPARE, each
// build in turn); the median time is reported. Returns one result per build of CLIS.
const TRIALS = Number(process.env.BENCH_REVERSE_TRIALS ?? 3);
async function trials(setup, timed) {
  const runs = CLIS.map(() => []);
  for (let i = 0; i < TRIALS; i++) for (const [k, cli] of CLIS.entries()) runs[k].push(await session(cli, big, setup, timed));
  return runs.map((r) => summary(r, timed));
}
function summary(runs, timed) {
  const times = {};
  const spread = {};
  for (const [label] of timed) {
    const xs = runs.map((r) => r.times[label]).filter((x) => x !== undefined).sort((a, b) => a - b);
    times[label] = xs.length === runs.length ? xs[Math.floor(xs.length / 2)] : undefined;
    spread[label] = xs;
  }
  return { ...runs[0], runs, times, spread };
}
// Every session stands at the end of the loop (`break done`, `continue`) first.
const SESSIONS = {
  // reverse-continue to mark(), called every tenth of the run: T = k/10 of the run back; then reverse-stepi at a mark hit
  rc: [['break done', 'continue', 'break mark'],
    [1, 2, 3, 4, 5].map((k) => [`rc${k}`, 'reverse-continue']).concat([['stepi0', 'reverse-stepi'], ['stepi1', 'reverse-stepi'], ['stepi2', 'reverse-stepi']])],
  // reverse-stepi right after the long forward continue, then a breakpoint hit on every iteration
  every: [['break done', 'continue'],
    [['stepiAfter', 'reverse-stepi'], ['brk', 'break revloop.c:10'], ['bp', 'reverse-continue'], ['i1', 'print i'], ['bp2', 'reverse-continue'], ['i2', 'print i']]],
  // a watchpoint on a global written every 65536 iterations
  watch: [['break done', 'continue', 'watch h'], [['watch', 'reverse-continue'], ['watch2', 'reverse-continue']]],
};
const only = process.env.BENCH_REVERSE_SESSIONS?.split(',');
const sessions = Object.entries(SESSIONS).filter(([name]) => !only || only.includes(name));
// per build of CLIS: session name -> summary
const idleOf = CLIS.map(() => ({}));
const loadedOf = CLIS.map(() => ({}));
for (const [name, [setup, timed]] of sessions) {
  (await trials(setup, timed)).forEach((r, k) => (idleOf[k][name] = r));
  (await underLoad(() => trials(setup, timed))).forEach((r, k) => (loadedOf[k][name] = r));
}

// the answers must be right, not only quick, and the same under load
const iters = (out) => [...out.matchAll(/i=(\d+)/g)].map((m) => Number(m[1]));
const check = (ok, what) => {
  if (!ok) throw new Error(`bench/reverse.js: wrong answer: ${what}`);
};
const answers = (out) => out.split('\n').filter((l) => !/^(TIME |Reading |warning:|\[Inferior|rewind:)|MiB resident|checkpoint/i.test(l)).join('\n');
for (const runs of [...idleOf, ...loadedOf]) {
  for (const r of runs.rc?.runs ?? []) check(JSON.stringify(iters(r.out).slice(0, 5)) === JSON.stringify([1, 2, 3, 4, 5].map((k) => N - (k - 1) * (N / 10) - 1)), `mark hits ${iters(r.out)}`);
  for (const r of runs.every?.runs ?? []) check(new RegExp(`Breakpoint 2, main .*revloop\\.c:10[^]*\\$1 = ${N - 1}\\n[^]*\\$2 = ${N - 2}\\n`).test(r.out), 'the every-iteration breakpoint');
  const lastH = Math.floor((N - 1) / 65536) * 65536;
  // in reverse, gdb shows the value after the write as Old and the one before as New
  for (const r of runs.watch?.runs ?? []) check(r.out.includes(`Old value = ${lastH}\nNew value = ${lastH - 65536}\n`) && r.out.includes(`Old value = ${lastH - 65536}\nNew value = ${lastH - 131072}\n`), `the watchpoint:\n${r.out}`);
}
for (const [name] of sessions) {
  const want = answers(idleOf[0][name].runs[0].out);
  for (const r of [...idleOf, ...loadedOf].flatMap((x) => x[name].runs)) check(answers(r.out) === want, `${name}: a session answered differently:\n${answers(r.out)}\n---- against ----\n${want}`);
}

const f = (x) => (x === undefined ? 'n/a' : `${x.toFixed(3)} s`);
const range = (xs) => (xs.length ? ` (${xs[0].toFixed(2)}–${xs[xs.length - 1].toFixed(2)})` : '');
const met = (x, target) => (x === undefined ? 'n/a' : x <= target ? 'yes' : 'no');
const ratio = (idle, loaded, name, label) => {
  const a = idle[name].times[label];
  const b = loaded[name].times[label];
  return a && b ? b / a : undefined;
};
const showRatio = (r) => (r === undefined ? 'n/a' : `${r.toFixed(1)}×`);
// [what, T back, target (s), session, label]
const ROWS = [
  ...[1, 2, 3, 4, 5].map((k) => {
    const T = (k / 10) * native;
    return [`reverse-continue to \`mark\`, T = ${k / 10} of the run back`, `${T.toFixed(2)} s`, 1.5 * T + 0.5, 'rc', `rc${k}`];
  }),
  ...['stepi0', 'stepi1', 'stepi2'].map((l, i) => [`reverse-stepi at a \`mark\` hit (${['first', 'second', 'third'][i]})`, 'one instruction', 0.1, 'rc', l]),
  ['reverse-stepi right after the forward `continue` over the whole loop', 'one instruction', 0.1, 'every', 'stepiAfter'],
  ['reverse-continue to a breakpoint hit every iteration, from just after the loop', 'one iteration', 1, 'every', 'bp'],
  ['the same, again (the iteration before)', 'one iteration', 1, 'every', 'bp2'],
  ['reverse-continue to the last write of a global written every 65 536 iterations', '65 536 iterations at most', 1, 'watch', 'watch'],
  ['the same, again (the write before)', '65 536 iterations', 1, 'watch', 'watch2'],
].filter(([, , , name]) => sessions.some(([n]) => n === name));
const row = (idle, loaded, [what, back, target, name, label]) => {
  const t = idle[name].times[label];
  const l = loaded[name].times[label];
  const r = ratio(idle, loaded, name, label);
  return `| ${what} | ${back} | ≤ ${target.toFixed(2)} s | ${f(t)}${range(idle[name].spread[label])} | ${met(t, target)} | ${f(l)}${range(loaded[name].spread[label])} | ${showRatio(r)} | ${r === undefined ? 'n/a' : r <= 3 || (l ?? Infinity) <= target ? 'yes' : 'no'} |`;
};
const [idle, loaded] = [idleOf[CLIS.length - 1], loadedOf[CLIS.length - 1]];
const headline = `${measuredOn()} `
  + `\`node bench/reverse.js\`. The program updates a global every iteration, another every 65 536 iterations, and calls \`mark\` every tenth of the run; ${N} iterations take ${native.toFixed(2)} s natively, all in one interval (no syscalls). `
  + `gdb stands at the end (\`break done\`, \`continue\`); each time is one gdb command, timed by gdb's python, packets included: the median of ${TRIALS} sessions, each with a fresh server (min–max in parentheses). `
  + 'Every session runs idle and again with two CPU hogs (`node -e "for (;;);"`) on the 2 CPUs, side by side in one run; the answers gdb printed are compared and must be the same. The targets are the ones of issue 10; under load, the target is at most 3× the idle time (or the idle target itself).';
if (BASE_CLI) {
  // before/after, trial by trial in turn on one recording: printed, for the docs of a change
  const cell = (runs, [, , , name, label]) => `${f(runs[name].times[label])}${range(runs[name].spread[label])}`;
  console.log([
    `${headline} Builds compared, each trial in turn: before = ${BASE_CLI}, after = ${CLI}.`,
    '',
    '| command | idle before | idle after | hogs before | hogs after | ratio before | ratio after |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...ROWS.map((r) => `| ${r[0]} | ${cell(idleOf[0], r)} | ${cell(idleOf[1], r)} | ${cell(loadedOf[0], r)} | ${cell(loadedOf[1], r)} | ${showRatio(ratio(idleOf[0], loadedOf[0], r[3], r[4]))} | ${showRatio(ratio(idleOf[1], loadedOf[1], r[3], r[4]))} |`),
  ].join('\n'));
} else {
  const lines = [
    '## Reverse execution',
    '',
    headline,
    '',
    '| command | T back | target | idle | met? | two CPU hogs | ratio | met? |',
    '| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |',
    ...ROWS.map((r) => row(idle, loaded, r)),
    '',
    ...(idle.rc ? [`Checkpoints at the end of the first \`mark\` session: ${idle.rc.checkpoints} processes, ${idle.rc.resident.toFixed(1)} MiB resident in total (pages are shared copy-on-write, so real use is lower).`, ''] : []),
    "Reading: the forward `continue` leaves a copy of the process every 25 ms of replay (run time: the process's CPU time, so the copies stand at the same places under load, docs/load.md). A reverse-continue first narrows the stretch between the closest copy and the current point with runs that trap only on the current point, leaving copies ever closer to it (down to tens of microseconds), then searches windows that end at the current point, each about twice as long as the last. A window over breakpoints is one run that counts their hits in the process (no stop per hit, see the table above), then one run to the last hit, which leaves a copy at the hit's previous arrival for a reverse-stepi there; watchpoints trap per trigger, and the arrivals at the window's end, when its pc is hot or named only by a fingerprint, are counted in the process. See docs/timeline.md.",
  ];
  // a subset of the sessions is printed, not written over the full section
  if (only) console.log(lines.join('\n'));
  else writeSection('bench/reverse.js', 'reverse', lines);
}
fs.rmSync(work, { recursive: true, force: true });
