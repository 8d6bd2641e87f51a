import * as os from 'node:os';

let chosen: number | undefined;

/**
 * The CPU the tracer thread and its tracees share: every ptrace stop then wakes
 * a thread on the same CPU (several times cheaper than crossing CPUs), and the
 * JS thread (compression, trace writes) keeps the other CPUs. REWIND_CPU overrides.
 * Chosen once per process: configuring the addon moves the JS thread off this
 * CPU, after which the JS thread's own affinity no longer shows every CPU.
 */
export function tracerCpu(): number {
  if (chosen === undefined) {
    const fromEnv = process.env.REWIND_CPU;
    chosen = fromEnv !== undefined && /^\d+$/.test(fromEnv) ? Number(fromEnv) : Math.max(0, os.availableParallelism() - 1);
  }
  return chosen;
}
