import * as os from 'node:os';

/**
 * The CPU the tracer thread and its tracees share: every ptrace stop then wakes
 * a thread on the same CPU (several times cheaper than crossing CPUs), and the
 * JS thread (compression, trace writes) keeps the other CPUs. REWIND_CPU overrides.
 */
export function tracerCpu(): number {
  const fromEnv = process.env.REWIND_CPU;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) return Number(fromEnv);
  return Math.max(0, os.availableParallelism() - 1);
}
