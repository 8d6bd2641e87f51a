// `rewind replay --check [TRACE]`: replays a trace headless to its end, echoing what
// the program wrote to fd 1 and 2, and exits with its status. A file of its own so
// that a check loads the replayer alone, not the debugger and the protocol server.
import { TraceReader } from '../history/index.js';
import { msNow, Replayer } from '../replay/replayer.js';
import { native } from '../native/addon.js';
import { cpuidMismatch } from '../arch/cpu.js';
import { fail, notice, shellStatus, writeAllSync } from './output.js';
import { resolveTrace } from './trace-store.js';

export async function replayCheckCommand(argv: { trace?: string }): Promise<number> {
  let replayer: Replayer | undefined;
  const began = msNow();
  globalThis.__rewindMark?.('command loaded');
  try {
    const trace = TraceReader.open(resolveTrace(argv.trace));
    globalThis.__rewindMark?.('trace opened');
    await warnAboutCpu(trace);
    globalThis.__rewindMark?.('cpu checked');
    replayer = await Replayer.start(trace);
    globalThis.__rewindMark?.('address space rebuilt');
    const outcome = await replayer.run({ onOutput: (fd, data) => writeAllSync(fd, data), onNote: (text) => notice(text) });
    globalThis.__rewindMark?.('program ended');
    if (process.env.REWIND_TRACE_RUNS) {
      const t = replayer.times;
      const ms = (x: number) => x.toFixed(1);
      notice(`replay: ${ms(msNow() - began)} ms in the command (${ms(process.uptime() * 1000)} since the process started): `
        + `start ${ms(t.startMs)}, native loop ${ms(t.nativeMs)} in ${t.nativeRuns} runs, `
        + `${t.execs} execs ${ms(t.execMs)}, ${t.jsEvents} other JS events ${ms(t.jsEventsMs)}, chunks ${ms(t.chunksMs)}; ${outcome.events} events, ${outcome.served} served in-process`);
      const e = native().sysemuCounts();
      notice(`replay: syscall entries answered at one stop ${e.skipped}, entered again ${e.reentered}, left through their exit stop ${e.left} (addon/replay_sysemu.h); rt_sigaction answered without running ${e.sigactions} (addon/replay_sigaction.h)`);
      const p = (await import('../points/point-counts.js')).pointCounts();
      notice(`replay: points reached by the filter ${p.filter} (${p.laps} of them running the loop as laps), by an int3 ${p.trapped} (src/points)`);
    }
    if (outcome.kind === 'incomplete') fail(`the trace is incomplete: ${outcome.reason}; replayed ${outcome.events} events`);
    return shellStatus(outcome);
  } catch (e) {
    await replayer?.close();
    fail((e as Error).message);
  }
}

/** Warns when this CPU's CPUID answers differ from the recording's (the replay may diverge). */
export async function warnAboutCpu(trace: TraceReader): Promise<void> {
  const warning = await cpuidMismatch(trace.meta.cpuid);
  if (warning) notice(`warning: ${warning}`);
}
