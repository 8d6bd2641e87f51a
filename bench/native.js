// The native run a trial compares record and replay with (bench/trial.js). One
// native run is a poor baseline on this VM: a program whose threads hand work to each
// other (threads_token) took 0.3 s in one run and 4.2 s in another. The slow runs are
// those where the scheduler puts the two threads on different CPUs (the other CPU
// idle): every hand-over is then a rescheduling IPI to the other vCPU, about 20 us
// each here (200 113 of them in a 4.0 s run, 120 in a 0.25 s run with both threads on
// one CPU). With the other CPU busy (other load) the waker's CPU is chosen and a
// hand-over is a plain context switch. So each trial runs the program natively
// several times and takes the median, counts the rescheduling IPIs during those runs
// (/proc/interrupts, RES), and for workloads that hand over between threads also runs
// it with every thread on one CPU (taskset: the placement the recorder gives its
// tracees), so that record is compared with the faster of the two.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function seconds(start) {
  const [s, ns] = process.hrtime(start);
  return s + ns / 1e9;
}

/** Rescheduling IPIs of every CPU so far (/proc/interrupts, RES), or undefined where it is not shown. */
function reschedIpis() {
  let text;
  try {
    text = fs.readFileSync('/proc/interrupts', 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((l) => /^\s*RES:/.test(l));
  if (!line) return undefined;
  return line.trim().split(/\s+/).slice(1).filter((f) => /^\d+$/.test(f)).reduce((a, f) => a + Number(f), 0);
}

/** One native run of `argv` (with `cpu`, pinned to that CPU by taskset): wall seconds and the rescheduling IPIs during it. */
function runOnce(argv, { env, stdout, cpu }) {
  const [program, ...args] = cpu === undefined ? argv : ['taskset', '-c', String(cpu), ...argv];
  const h0 = reschedIpis();
  const t = process.hrtime();
  const r = spawnSync(program, args, { stdio: ['ignore', stdout, 'inherit'], env });
  const wall = seconds(t);
  const h1 = reschedIpis();
  if (r.error) throw new Error(`${program} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed natively${cpu === undefined ? '' : ` on CPU ${cpu}`}: ${r.status}`);
  return { wall, ipis: h0 === undefined ? undefined : h1 - h0 };
}

/**
 * `runs` native runs of `argv`, and as many on one CPU when `pinnedCpu` is given,
 * alternating (`after` is called after each run that is not pinned): the medians of
 * each, every run's time, and the median number of rescheduling IPIs per run.
 */
export function timeNative(argv, { runs, env, stdout, pinnedCpu, after = () => {} }) {
  const free = [], pinned = [];
  for (let i = 0; i < runs; i++) {
    free.push(runOnce(argv, { env, stdout }));
    after();
    if (pinnedCpu !== undefined) pinned.push(runOnce(argv, { env, stdout, cpu: pinnedCpu }));
  }
  const summary = (xs) => xs.length === 0 ? undefined : {
    median: median(xs.map((x) => x.wall)),
    runs: xs.map((x) => Number(x.wall.toFixed(3))),
    ipis: xs[0].ipis === undefined ? undefined : median(xs.map((x) => x.ipis)),
  };
  return { free: summary(free), pinned: summary(pinned) };
}
