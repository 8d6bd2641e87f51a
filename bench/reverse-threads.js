// node bench/reverse-threads.js: reverse execution in a threaded stretch, measured
// with the real gdb against `rewind replay` (run `npm run build` first). The tests'
// mutex_counter (8 threads, 20 000 locked increments each) is recorded; gdb goes to
// the end of the recording, watches the counter and reverse-continues twice. The
// tests' hot_threads (two workers taking turns, 1.2e6 calls of hot() in all) is
// recorded too; gdb stops at finish() and reverse-continues to `break hot` twice,
// then goes back to the last round's start and reverse-continues to the other
// worker's last call. Each command is timed by gdb's python; the answers are
// checked. The numbers go into docs/benchmarks.md between this script's markers.
// Never asserted in tests.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gdbSession } from './gdb-session.js';
import { measuredOn, writeSection } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// BENCH_CLI: another build's bin/rewind.js, to measure it the same way (before/after)
const CLI = process.env.BENCH_CLI ?? path.join(here, '..', 'bin', 'rewind.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rewind-bench-revthreads-'));
const TRIALS = Number(process.env.BENCH_REVERSE_TRIALS ?? 3);

/** A test program built and recorded (with the syscall buffer): its executable and trace. */
function recorded(name) {
  const exe = path.join(work, name);
  execFileSync('cc', ['-g', '-O0', '-pthread', '-o', exe, path.join(here, '..', 'tests', 'programs', 'threads', `${name}.c`)]);
  const trace = path.join(work, `${name}.trace`);
  execFileSync(process.execPath, [CLI, 'record', '-o', trace, '--', exe], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { exe, trace };
}

/** One gdb session against a fresh server; the timed commands' times (s), gdb's output and the server's log. */
function session({ exe, trace }, timed) {
  return gdbSession({ cli: CLI, trace, exe, gdbOptions: ['-l', '10000'], timed });
}

const mutex = recorded('mutex_counter');
const hot = recorded('hot_threads');
const TIMED = [['end', 'continue'], ['watch', 'watch counter'], ['rc1', 'reverse-continue'], ['rc2', 'reverse-continue']];
const HOT_TIMED = [
  ['hend', 'break finish'], ['hend', 'continue'], ['hbreak', 'break hot'], ['hrc1', 'reverse-continue'], ['hp1', 'print n'],
  ['hrc2', 'reverse-continue'], ['hp2', 'print n'], ['hdel', 'delete'], ['hround', 'break round_begin'], ['hrc3', 'reverse-continue'],
  ['hdel2', 'delete'], ['hbreak2', 'break hot'], ['hrc4', 'reverse-continue'], ['hp4', 'print n'], ['hstats', 'monitor stats'],
];
const runs = [];
for (let i = 0; i < TRIALS; i++) {
  const m = await session(mutex, TIMED);
  const h = await session(hot, HOT_TIMED);
  runs.push({ times: { ...m.times, ...h.times }, out: m.out, hotOut: h.out, hotServer: h.server });
}
for (const r of runs) {
  // gdb shows the value after the write as Old and the one before as New
  if (!r.out.includes('Old value = 160000\nNew value = 159999\n') || !r.out.includes('Old value = 159999\nNew value = 159998\n')) {
    throw new Error(`bench/reverse-threads.js: wrong answer:\n${r.out}`);
  }
  const ns = [...r.hotOut.matchAll(/^\$\d+ = (\d+)$/gm)].map((x) => Number(x[1]));
  if (ns.join() !== '1199999,1199998,1079999') throw new Error(`bench/reverse-threads.js: wrong answer for hot_threads:\n${r.hotOut}\nthe server said (REWIND_TRACE_RUNS=1 for its runs):\n${r.hotServer.slice(-20000)}`);
}
const trapped = runs.map((r) => Number(/^trappedHits: (\d+)$/m.exec(r.hotOut)?.[1] ?? NaN));
const stat = (label) => {
  const xs = runs.map((r) => r.times[label]).filter((x) => x !== undefined).sort((a, b) => a - b);
  return xs.length === runs.length ? `${xs[Math.floor(xs.length / 2)].toFixed(3)} s (${xs[0].toFixed(2)}–${xs[xs.length - 1].toFixed(2)})` : 'n/a';
};
writeSection('bench/reverse-threads.js', 'reverse-threads', [
  '## Reverse execution with threads',
  '',
  `${measuredOn()} \`node bench/reverse-threads.js\`. The tests' mutex_counter (8 threads, 20 000 locked increments each, recorded with the syscall buffer) is debugged from the end of the recording: a watchpoint on the counter, then two reverse-continues, each one gdb command timed by gdb's python: the median of ${TRIALS} sessions, each with a fresh server (min–max in parentheses). The answers (Old/New values) are checked. The tests' hot_threads (two workers taking turns, five rounds each of 120 000 calls of hot(), recorded with the syscall buffer) is debugged from finish(): \`break hot\` and two reverse-continues, then back to the last round's start (\`break round_begin\`) and a reverse-continue to \`break hot\`, the other worker's last call; the values of n are checked.`,
  '',
  '| command | time |',
  '| --- | ---: |',
  `| continue to the end of the recording | ${stat('end')} |`,
  `| reverse-continue to the counter's last write (a watchpoint) | ${stat('rc1')} |`,
  `| the same, again (the write before) | ${stat('rc2')} |`,
  `| hot_threads: reverse-continue from finish() to \`break hot\` (the last of 1.2e6 calls in two threads) | ${stat('hrc1')} |`,
  `| the same, again (the call before) | ${stat('hrc2')} |`,
  `| back to the last round's start, then reverse-continue to the other thread's last call | ${stat('hrc4')} |`,
  '',
  `hot_threads' hits trapped one by one by the searches (\`monitor stats\`, trappedHits): ${trapped.join(', ')}.`,
  '',
  'Reading: the last worker makes its 20 000 writes in one interval; without checkpoints of threaded states (before branch threadckpt) both searches replayed from the last checkpoint before the first thread. Measured by hand on one recording, the old and the new build alternately, twice each, on the same VM under load (load average 11-12): 25.9 s + 20.6 s and 22.9 s + 19.2 s before, 7.2 s + 8.6 s and 5.6 s + 7.7 s after. The times depend on the recorded schedule (how long the last worker\'s interval is). What is left is a trap per write inside that interval: a watchpoint\'s triggers are the debug registers\' traps, which in-process counting does not replace (docs/timeline.md, "Counting in the process", *Threads*). hot_threads (branch hotthreads): before it, counting was off in any process that had made a thread, and every search trapped each call of hot() in its windows; measured with the build before the branch (BENCH_CLI=its bin/rewind.js, one session) at 01:49-01:53 UTC, load average 15, on its own recording: 168.1 s, 18.9 s and 60.1 s for the three hot_threads rows, and 7.3 s and 11.5 s for the two watchpoint rows. The branch at the same load, 01:55 UTC: 0.71 s, 0.034 s and 0.20 s (median of 3). The watchpoint rows vary with the recording and the load (each bench run records anew; single sessions from 0.4 s to 38 s were seen on the branch); measured in pairs by hand on one recording at load 4, the old and the new build alternately, the two watch reverse-continues took 4.2 s + 5.5 s and 4.1 s + 5.6 s before, 2.1 s + 2.0 s and 1.8 s + 1.4 s after (another recording: 4.3 s + 5.4 s before, 2.3 s + 2.0 s after). With counting in threads the windows are counted in the process, across the threads\' turns, and trappedHits stays 0.',
]);
fs.rmSync(work, { recursive: true, force: true });
