// The native run a trial compares record and replay with (bench/trial.js). One
// native run is a poor baseline on this VM: a program whose threads hand work to each
// other across CPUs (threads_token) took 0.3 s in one run and 4.2 s in another. The
// idle vCPU halts at once (the guest's haltpoll with guest_halt_poll_ns=0), so each
// wake of a thread on the other, idle CPU is an interrupt the host must deliver to a
// halted vCPU; with the other CPU busy (other load), or both threads on one CPU, a
// hand-over is a plain context switch. So each trial runs the program natively
// several times and takes the median, counts the vCPUs' halts during those runs (the
// cpuidle counters), and for workloads that hand over between threads also runs it
// with every thread on one CPU (taskset: the placement the recorder gives its
// tracees), so that record is compared with the faster of the two.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function seconds(start) {
  const [s, ns] = process.hrtime(start);
  return s + ns / 1e9;
}

/** Halts of every CPU so far (cpuidle states other than polling), or undefined where cpuidle is not exposed. */
function halts() {
  const base = '/sys/devices/system/cpu';
  let total = 0, seen = false;
  for (const cpu of fs.readdirSync(base).filter((d) => /^cpu\d+$/.test(d))) {
    const dir = `${base}/${cpu}/cpuidle`;
    if (!fs.existsSync(dir)) continue;
    for (const state of fs.readdirSync(dir)) {
      if (fs.readFileSync(`${dir}/${state}/name`, 'utf8').trim() === 'POLL') continue;
      total += Number(fs.readFileSync(`${dir}/${state}/usage`, 'utf8'));
      seen = true;
    }
  }
  return seen ? total : undefined;
}

/** One native run of `argv` (with `cpu`, pinned to that CPU by taskset): wall seconds and the halts during it. */
function runOnce(argv, { env, stdout, cpu }) {
  const [program, ...args] = cpu === undefined ? argv : ['taskset', '-c', String(cpu), ...argv];
  const h0 = halts();
  const t = process.hrtime();
  const r = spawnSync(program, args, { stdio: ['ignore', stdout, 'inherit'], env });
  const wall = seconds(t);
  const h1 = halts();
  if (r.error) throw new Error(`${program} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed natively${cpu === undefined ? '' : ` on CPU ${cpu}`}: ${r.status}`);
  return { wall, halts: h0 === undefined ? undefined : h1 - h0 };
}

/**
 * `runs` native runs of `argv`, and as many on one CPU when `pinnedCpu` is given,
 * alternating (`after` is called after each run that is not pinned): the medians of
 * each, every run's time, and the median number of vCPU halts per run.
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
    halts: xs[0].halts === undefined ? undefined : median(xs.map((x) => x.halts)),
  };
  return { free: summary(free), pinned: summary(pinned) };
}
