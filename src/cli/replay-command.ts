import { TraceReader } from '../history/index.js';
import { Replayer } from '../replay/replayer.js';
import { fail, notice, shellStatus, writeAllSync } from './output.js';
import { resolveTrace } from './trace-store.js';

export async function replayCheckCommand(argv: { trace?: string }): Promise<number> {
  let replayer: Replayer | undefined;
  try {
    const trace = TraceReader.open(resolveTrace(argv.trace));
    replayer = await Replayer.start(trace);
    const outcome = await replayer.run({ onOutput: (fd, data) => writeAllSync(fd, data) });
    if (outcome.kind === 'incomplete') fail(`the trace is incomplete: ${outcome.reason}; replayed ${outcome.events} events`);
    return shellStatus(outcome);
  } catch (e) {
    await replayer?.close();
    fail((e as Error).message);
  }
}

export function replayServeUnavailable(): never {
  notice('serving a replay to gdb is not built yet; use `rewind replay --check [TRACE]`');
  process.exit(125);
}
