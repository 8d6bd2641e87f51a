import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Recorder } from '../record/recorder.js';
import { inheritedStdioNonBlocking } from './inherited-stdio.js';
import { fail, notice, shellStatus } from './output.js';
import { markLatest, newTraceDir } from './trace-store.js';

export async function recordCommand(argv: {
  output?: string; command: string[]; syscallbuf?: boolean; portable?: boolean; cpuidFrom?: string;
  chaos?: boolean; chaosSeed?: number; slice?: string;
}): Promise<number> {
  globalThis.__rewindMark?.('command loaded');
  const [program, ...args] = argv.command;
  if (!program) fail('usage: rewind record [-o DIR] -- PROGRAM [ARGS...]');
  const sliceMs = argv.slice === undefined ? undefined : Number(argv.slice);
  if (sliceMs !== undefined && !(sliceMs >= 0.1 && sliceMs <= 60_000)) fail(`--slice ${argv.slice}: expected milliseconds from 0.1 to 60000`);
  const dir = argv.output ? path.resolve(argv.output) : newTraceDir(program);
  markLatest(dir);  // now, so that a recorder killed mid-run still leaves `latest` at its trace
  const recorder = new Recorder();
  // --chaos: the seed is printed, so that a run that showed a rare interleaving can be tried again.
  const seed = argv.chaosSeed !== undefined ? BigInt.asUintN(64, BigInt(argv.chaosSeed)) : argv.chaos ? randomSeed() : 0n;
  if (argv.chaos) notice(`chaos: random time slices and thread choices, seed ${seed} (--chaos-seed ${seed})`);
  // The program has the terminal (its own process group in the foreground): Ctrl-C
  // reaches it, not the recorder. A signal to the recorder itself (SIGINT included)
  // ends the recording at once, with the trace kept; the status says which.
  const signals = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
  let stoppedBy: keyof typeof signals | undefined;
  process.on('SIGQUIT', () => undefined);
  for (const sig of Object.keys(signals) as (keyof typeof signals)[]) {
    process.on(sig, () => {
      stoppedBy ??= sig;
      recorder.requestStop(`the recorder received ${sig}`);
    });
  }
  let outcome;
  try {
    // The program's stdio as rewind was given it, not as Node has made it since.
    const stdioNonBlocking = inheritedStdioNonBlocking();
    outcome = await recorder.record({
      program, args, traceDir: dir, stdioNonBlocking, ...(argv.syscallbuf === false ? { syscallbuf: false } : {}),
      cpuid: { portable: argv.portable, answersFrom: argv.cpuidFrom },
      ...(argv.chaos || sliceMs !== undefined ? { schedule: { chaos: argv.chaos ?? false, seed, ...(sliceMs !== undefined ? { sliceMs } : {}) } } : {}),
    });
  } catch (e) {
    await recorder.abort(`recorder error: ${(e as Error).message}`);
    fail((e as Error).message);
  }
  if (stoppedBy && outcome.kind === 'stopped') {
    notice(`recording stopped by ${stoppedBy}; trace saved to ${dir}`);
    return shellStatus({ kind: 'killed', signal: signals[stoppedBy] });
  }
  if (outcome.kind === 'stopped') {
    notice(`error: ${outcome.reason}`);
    notice(`trace saved to ${dir} (replayable up to event ${outcome.events - 2}, before the stop)`);
    return shellStatus(outcome);
  }
  notice(`trace saved to ${dir}`);
  return shellStatus(outcome);
}

/**
 * 64 random bits. node:crypto is loaded here, for --chaos alone: loading it loads all
 * of Node's streams, ~3 ms of every record's start (docs/startup.md).
 */
function randomSeed(): bigint {
  const { randomBytes } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return randomBytes(8).readBigUInt64LE(0);
}
