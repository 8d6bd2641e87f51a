// node bench/hit-costs.js: what one breakpoint hit costs a run of the replay, for
// the three ways the engine can see hits (docs/timeline.md, "Counting in the
// process"): an int3 trap per hit (the tracer steps over the instruction each
// time), a debug-register trap per hit (no memory writes, but still two context
// switches to the tracer), and the in-process counting stub (no stop at all).
// Each is one run of the engine's own rooms (dist/, run `npm run build` first)
// from the start of the loop's interval to the K-th arrival at a line of a loop
// that runs it once per iteration; the same run with no breakpoint at all is the
// baseline. The numbers go into docs/benchmarks.md between this script's markers.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measuredOn, writeSection } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const { TraceReader } = await import(path.join(dist, 'history', 'index.js'));
const { DebugSession } = await import(path.join(dist, 'debug', 'session.js'));
const { runToArrivalCounted, COUNT_IN_PROCESS_FROM } = await import(path.join(dist, 'debug', 'counted-runs.js'));
const { NO_SLOTS } = await import(path.join(dist, 'debug', 'traps.js'));

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rewind-bench-hits-'));
const CLI = path.join(here, '..', 'bin', 'rewind.js');
const SOURCE = `
#include <stdlib.h>
volatile long g;
__attribute__((noinline)) void done(void) { __asm__ volatile(""); }
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  for (long i = 0; i < n; i++) {
    g = g * 31 + i;
  }
  done();
  return (int)(g & 1);
}
`;
const N = 400_000_000;
const K_TRAP = Number(process.env.BENCH_HITS_TRAPPED ?? 100_000);
const K_COUNT = Number(process.env.BENCH_HITS_COUNTED ?? 100_000_000);

fs.writeFileSync(path.join(work, 'hits.c'), SOURCE);
const exe = path.join(work, 'hits');
execFileSync('cc', ['-g', '-O0', '-o', exe, path.join(work, 'hits.c')]);
const t0 = process.hrtime.bigint();
execFileSync(exe, [String(N)], { stdio: 'ignore' });
const nativeIter = Number(process.hrtime.bigint() - t0) / N; // ns per iteration, process start included
const trace = path.join(work, 'trace');
execFileSync(process.execPath, [CLI, 'record', '-o', trace, '--', exe, String(N)], { stdio: ['ignore', 'ignore', 'pipe'] });
// the loop line's address, from gdb's line table (the replay runs the PIE at its unrandomized base)
const info = execFileSync('gdb', ['-batch', '-nx', '-ex', 'info line hits.c:8', '-ex', 'info address done', exe], { encoding: 'utf8', cwd: work });
const base = 0x555555554000n;
const line = base + BigInt(/starts at address (0x[0-9a-f]+)/.exec(info)[1]);
const done = base + BigInt(/"done" is a function at address (0x[0-9a-f]+)/.exec(info)[1]);

const session = await DebugSession.start(TraceReader.open(trace));
// the engine's rooms, as the session wires them
const { proc, timeline, seeker, traps } = session;
await session.insertBreakpoint(0, done, 1);
await session.resume({ action: 'continue' });
await session.removeBreakpoint(0, done, 1);
const e = proc.next; // the loop's interval: no syscall between its start and done()

async function timed(k, how) {
  await seeker.reachBase(e, 0);
  const t = process.hrtime.bigint();
  const target = { kind: 0, event: e, pc: line, n: k };
  let ok;
  if (how === 'int3') {
    await traps.install([], NO_SLOTS);
    ok = (await timeline.run({ action: 'continue' }, e + 1, { silent: [line], target })).stop.reason === 'target';
  } else if (how === 'dr') {
    await traps.install([], [{ type: 0, addr: line, len: 1 }, null, null, null]);
    ok = (await timeline.run({ action: 'continue' }, e + 1, { search: true, target })).stop.reason === 'target'; // hits recorded, not stopped at
  } else {
    await traps.install([], NO_SLOTS);
    ok = await runToArrivalCounted(proc, timeline, { e, base: 0, pc: line, n: k, steps: 0 });
  }
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (!ok) throw new Error(`bench/hit-costs.js: the ${how} run did not reach arrival ${k}`);
  await traps.install([], NO_SLOTS);
  return s;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const [how, k, title] of [['int3', K_TRAP, 'int3 trap per hit'], ['dr', K_TRAP, 'debug-register trap per hit'], ['count', K_TRAP, 'in-process counting stub'], ['count', K_COUNT, 'in-process counting stub']]) {
  const s = median([await timed(k, how), await timed(k, how), await timed(k, how)]);
  rows.push({ title, k, s });
  process.stderr.write(`${title}: ${k} hits in ${s.toFixed(3)} s\n`);
}
await session.close();
const ns = (r) => (r.s * 1e9 / r.k).toFixed(r.s * 1e9 / r.k < 100 ? 1 : 0);
writeSection('bench/hit-costs.js', 'hit-costs', [
  '## What a breakpoint hit costs a run',
  '',
  `${measuredOn()} \`node bench/hit-costs.js\`. One run of the engine from the start of a loop's interval to the K-th arrival at the loop's line (\`g = g * 31 + i\`, a rip-relative load first, so the stub relocates it), each way of seeing the hits; the median of 3 runs, including the run's setup (the restore of the interval start, and for counting the stub's installation).`,
  '',
  '| how hits are seen | hits (K) | run | per hit |',
  '| --- | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.title} | ${r.k} | ${r.s.toFixed(3)} s | ${ns(r)} ns |`),
  `| (the loop's iteration natively, for comparison) | ${N} | ${(nativeIter * N / 1e9).toFixed(3)} s | ${nativeIter.toFixed(1)} ns |`,
  '',
  `Counting's fixed cost (mapping the stub's pages, planning and writing it, and taking it out) is about the first counted row's time; the second counted row's per-hit time includes the loop's own iteration (the native row, one run on the same machine, is only a rough comparison: on a loaded machine the two vary by more than the stub's cost). A search window over breakpoints is always counted in the process (how often they are hit is not known before); a run to the n-th arrival at a pc is counted from ${COUNT_IN_PROCESS_FROM} arrivals on (below that, its traps cost less than the setup).`,
  '',
  'Reading: a trap costs the tracer two context switches and a few ptrace calls per hit (an int3 also two memory writes and a single-step to step over itself); the stub costs a dozen instructions that never leave the process. Searches over hot breakpoints therefore count in the process, and trap only on the hit they are looking for.',
]);
fs.rmSync(work, { recursive: true, force: true });
