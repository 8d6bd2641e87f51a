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

/** The CPUID answers that steer glibc's choice of code (string functions, xsave size). */
export async function cpuidFingerprint(): Promise<number[][]> {
  const { native } = await import('../native/addon.js');
  native().configure({ cpu: tracerCpu() });
  return native().cpuidLeaves();
}

/**
 * Without CPUID faulting the replayed program reads this machine's CPUID: a
 * different answer can send it down other code paths than when recorded.
 * Returns a warning when this CPU answers differently, else undefined.
 */
export async function cpuidMismatch(recorded: unknown): Promise<string | undefined> {
  if (!Array.isArray(recorded)) return undefined;
  const now = await cpuidFingerprint();
  const hex = (v: number) => '0x' + (v >>> 0).toString(16);
  for (const row of recorded as number[][]) {
    const here = now.find((r) => r[0] === row[0] && r[1] === row[1]);
    if (here && here.some((v, i) => v !== row[i])) {
      return `this CPU answers CPUID leaf ${hex(row[0])}.${row[1]} differently from the recording's `
        + `(${row.slice(2).map(hex).join(' ')} recorded, ${here.slice(2).map(hex).join(' ')} here): `
        + 'the program may take other code paths, and the replay may diverge';
    }
  }
  return undefined;
}
