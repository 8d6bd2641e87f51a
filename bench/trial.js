// One trial, in a fresh process: the workload natively (several runs: bench/native.js),
// recorded, and replayed, side by side. Prints one JSON line of wall-clock seconds
// and the trace size; `native` is the median of the native runs, `nativePinned` (for
// workloads whose threads hand over to each other) the median with every thread on
// the recorder's CPU. BENCH_NATIVE_RUNS sets the number of native runs (default 3).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Recorder } from '../dist/record/recorder.js';
import { Replayer } from '../dist/replay/replayer.js';
import { TraceReader } from '../dist/history/index.js';
import { tracerCpu } from '../dist/arch/cpu.js';
import { timeNative } from './native.js';
import { WORK, WORKLOADS } from './workloads.js';

const name = process.argv[2];
const workload = WORKLOADS[name];
if (!workload) throw new Error(`unknown workload ${name}`);
const [program, ...args] = workload.command();

function seconds(start) {
  const [s, ns] = process.hrtime(start);
  return s + ns / 1e9;
}

function dirSize(dir) {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirSize(p) : fs.statSync(p).size;
  }
  return total;
}

const traceDir = path.join(WORK, `trace-${name}-${process.pid}`);
fs.rmSync(traceDir, { recursive: true, force: true });
const devnull = fs.openSync('/dev/null', 'w');
try {
  const cpuFile = path.join(WORK, `cpu-${process.pid}`);
  const env = workload.reportsCpu ? { ...process.env, REWIND_BENCH_CPU: cpuFile } : process.env;
  const cpuTimes = [];
  const nat = timeNative([program, ...args], {
    runs: Number(process.env.BENCH_NATIVE_RUNS ?? 3), env, stdout: devnull,
    pinnedCpu: workload.handsOver ? tracerCpu() : undefined,
    after: () => {
      if (!workload.reportsCpu) return;
      cpuTimes.push(Number(fs.readFileSync(cpuFile, 'utf8')));
      fs.rmSync(cpuFile, { force: true });
    },
  });
  const native = nat.free.median;
  const nativeCpu = cpuTimes.length ? [...cpuTimes].sort((a, b) => a - b)[Math.floor(cpuTimes.length / 2)] : undefined;

  let t = process.hrtime();
  const outcome = await new Recorder().record({ program, args, traceDir, env: process.env, stdio: [devnull, devnull, 2] });
  const record = seconds(t);
  if (outcome.kind !== 'exited' || outcome.code !== 0) throw new Error(`recording failed: ${JSON.stringify(outcome)}`);

  t = process.hrtime();
  const trace = TraceReader.open(traceDir);
  const replayer = await Replayer.start(trace);
  const result = await replayer.run({});
  const replay = seconds(t);
  if (result.kind !== 'exited' || result.code !== 0) throw new Error(`replay failed: ${JSON.stringify(result)}`);
  process.stdout.write(JSON.stringify({
    native, nativeRuns: nat.free.runs, nativeIpis: nat.free.ipis,
    nativePinned: nat.pinned?.median, nativePinnedRuns: nat.pinned?.runs, nativePinnedIpis: nat.pinned?.ipis,
    nativeCpu, record, replay, events: outcome.events, traceBytes: dirSize(traceDir),
  }) + '\n');
} finally {
  fs.rmSync(traceDir, { recursive: true, force: true });
}
