// node bench/reverse-threads.js: reverse execution in a threaded stretch, measured
// with the real gdb against `rewind replay` (run `npm run build` first). The tests'
// mutex_counter (8 threads, 20 000 locked increments each) is recorded; gdb goes to
// the end of the recording, watches the counter and reverse-continues twice, each
// command timed by gdb's python. The answers (Old/New values) are checked. The
// numbers go into docs/benchmarks.md between this script's markers. Never asserted
// in tests.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measuredOn, writeSection } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '..', 'bin', 'rewind.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rewind-bench-revthreads-'));
const TRIALS = Number(process.env.BENCH_REVERSE_TRIALS ?? 3);

const exe = path.join(work, 'mutex_counter');
execFileSync('cc', ['-g', '-O0', '-pthread', '-o', exe, path.join(here, '..', 'tests', 'programs', 'threads', 'mutex_counter.c')]);
const trace = path.join(work, 'trace');
execFileSync(process.execPath, [CLI, 'record', '-o', trace, '--', exe], { stdio: ['ignore', 'ignore', 'pipe'] });

/** One gdb session against a fresh server; the timed commands' times (s) and gdb's output. */
async function session(timed) {
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
  const args = ['-batch', '-nx', '-l', '10000', '-ex', 'set pagination off', '-ex', `target remote 127.0.0.1:${port}`];
  for (const [label, c] of timed) {
    args.push('-ex', 'python import time; _t = time.time()', '-ex', c, '-ex', `python print("TIME ${label} %.4f" % (time.time() - _t))`);
  }
  try {
    const r = spawnSync('gdb', [...args, exe], { encoding: 'utf8', timeout: 1_200_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = `${r.stdout}\n${r.stderr}`;
    const times = {};
    for (const m of out.matchAll(/^TIME (\S+) ([\d.]+)$/gm)) times[m[1]] = Number(m[2]);
    return { times, out };
  } finally {
    server.kill('SIGKILL');
  }
}

const TIMED = [['end', 'continue'], ['watch', 'watch counter'], ['rc1', 'reverse-continue'], ['rc2', 'reverse-continue']];
const runs = [];
for (let i = 0; i < TRIALS; i++) runs.push(await session(TIMED));
for (const r of runs) {
  // gdb shows the value after the write as Old and the one before as New
  if (!r.out.includes('Old value = 160000\nNew value = 159999\n') || !r.out.includes('Old value = 159999\nNew value = 159998\n')) {
    throw new Error(`bench/reverse-threads.js: wrong answer:\n${r.out}`);
  }
}
const stat = (label) => {
  const xs = runs.map((r) => r.times[label]).filter((x) => x !== undefined).sort((a, b) => a - b);
  return xs.length === runs.length ? `${xs[Math.floor(xs.length / 2)].toFixed(3)} s (${xs[0].toFixed(2)}–${xs[xs.length - 1].toFixed(2)})` : 'n/a';
};
writeSection('bench/reverse-threads.js', 'reverse-threads', [
  '## Reverse execution with threads',
  '',
  `${measuredOn()} \`node bench/reverse-threads.js\`. The tests' mutex_counter (8 threads, 20 000 locked increments each, recorded with the syscall buffer) is debugged from the end of the recording: a watchpoint on the counter, then two reverse-continues, each one gdb command timed by gdb's python: the median of ${TRIALS} sessions, each with a fresh server (min–max in parentheses). The answers (Old/New values) are checked.`,
  '',
  '| command | time |',
  '| --- | ---: |',
  `| continue to the end of the recording | ${stat('end')} |`,
  `| reverse-continue to the counter's last write (a watchpoint) | ${stat('rc1')} |`,
  `| the same, again (the write before) | ${stat('rc2')} |`,
  '',
  'Reading: the last worker makes its 20 000 writes in one interval; without checkpoints of threaded states (before branch threadckpt) both searches replayed from the last checkpoint before the first thread. Measured by hand on one recording, the old and the new build alternately, twice each, on the same VM under load (load average 11-12): 25.9 s + 20.6 s and 22.9 s + 19.2 s before, 7.2 s + 8.6 s and 5.6 s + 7.7 s after. The times depend on the recorded schedule (how long the last worker\'s interval is). What is left is a trap per write inside that interval: in-process counting is not used in a threaded process yet (docs/timeline.md, "gdb with threads").',
]);
fs.rmSync(work, { recursive: true, force: true });
