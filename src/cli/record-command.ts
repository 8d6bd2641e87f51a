import * as path from 'node:path';
import { Recorder } from '../record/recorder.js';
import { inheritedStdioNonBlocking } from './inherited-stdio.js';
import { fail, notice, shellStatus } from './output.js';
import { markLatest, newTraceDir } from './trace-store.js';

export async function recordCommand(argv: {
  output?: string; command: string[]; syscallbuf?: boolean; portable?: boolean; cpuidFrom?: string;
}): Promise<number> {
  const [program, ...args] = argv.command;
  if (!program) fail('usage: rewind record [-o DIR] -- PROGRAM [ARGS...]');
  const dir = argv.output ? path.resolve(argv.output) : newTraceDir(program);
  markLatest(dir);  // now, so that a recorder killed mid-run still leaves `latest` at its trace
  const recorder = new Recorder();
  // The program gets terminal signals itself (same process group); the recorder
  // keeps recording them. A request to stop the recorder ends the trace cleanly.
  process.on('SIGINT', () => undefined);
  process.on('SIGQUIT', () => undefined);
  for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      void recorder.abort(`the recorder received ${sig}`).then(() => {
        notice(`recording stopped by ${sig}; trace saved to ${dir}`);
        process.exit(shellStatus({ kind: 'killed', signal: sig === 'SIGTERM' ? 15 : 1 }));
      });
    });
  }
  let outcome;
  try {
    // The program's stdio as rewind was given it, not as Node has made it since.
    const stdioNonBlocking = inheritedStdioNonBlocking();
    outcome = await recorder.record({
      program, args, traceDir: dir, stdioNonBlocking, ...(argv.syscallbuf === false ? { syscallbuf: false } : {}),
      cpuid: { portable: argv.portable, answersFrom: argv.cpuidFrom },
    });
  } catch (e) {
    await recorder.abort(`recorder error: ${(e as Error).message}`);
    fail((e as Error).message);
  }
  if (outcome.kind === 'stopped') {
    notice(`error: ${outcome.reason}`);
    notice(`trace saved to ${dir} (replayable up to event ${outcome.events - 2}, before the stop)`);
    return shellStatus(outcome);
  }
  notice(`trace saved to ${dir}`);
  return shellStatus(outcome);
}
