import { TraceReader } from '../history/index.js';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { firstExec } from '../replay/replay-process.js';
import { debuggedFromExec, debugStartOf, findProcess, recordedProcesses, threadedRefusal, type RecordedProcess } from '../replay/process-tree.js';
import { checkSymbolFile, TraceFiles } from '../replay/trace-files.js';
import { DebugSession } from '../debug/session.js';
import { readFileSync } from 'node:fs';
import { serveReplay } from '../rsp/server.js';
import { EXIT_REWIND_ERROR, fail, notice, writeAllSync } from './output.js';
import { warnAboutCpu } from './replay-check-command.js';
import { resolveTrace } from './trace-store.js';

export interface ServeArgs {
  trace?: string;
  port: number;
  host: string;
  once: boolean;
  gdb: boolean;
  gdbPath?: string;
  symbols?: string;
  /** the process gdb debugs: a recorded pid or a command name (default the first) */
  pid?: string;
}

/** `rewind replay [TRACE] [--port N] [--host ADDR] [--once] [--gdb] [--symbols FILE]`: serves the replay to gdb. */
export async function replayServeCommand(argv: ServeArgs): Promise<number> {
  let trace: TraceReader;
  try {
    trace = TraceReader.open(resolveTrace(argv.trace));
  } catch (e) {
    fail((e as Error).message);
  }
  let first: ReturnType<typeof firstExec>;
  let debugged: RecordedProcess | undefined;
  try {
    first = firstExec(trace);
    if (argv.pid !== undefined) debugged = findProcess(recordedProcesses(trace), argv.pid);
    else if (trace.meta.version >= 5) debugged = recordedProcesses(trace)[0];
    if (debugged && (debugged.parent || debuggedFromExec(debugged))) first = debugStartOf(trace, debugged);
    // Threads (format 5) are replayed headless only, for now.
    const refusal = trace.meta.version >= 5 && debugged ? threadedRefusal(debugged) : undefined;
    if (refusal) throw new Error(refusal);
  } catch (e) {
    fail((e as Error).message);
  }
  await warnAboutCpu(trace);
  let exePath = first.snapshot.exe;
  let symbolFile: string | undefined;
  if (argv.symbols) {
    const files = first.snapshot.mappings.filter((m) => m.name === exePath && 'file' in m.source);
    const sha = files.length ? (files[0].source as { file: string }).file : undefined;
    if (!sha) fail(`the trace does not hold the recorded executable ${exePath}, so ${argv.symbols} cannot be checked against it`);
    const why = checkSymbolFile(argv.symbols, trace.file(sha));
    if (why) fail(`--symbols ${argv.symbols} does not match the recorded executable ${exePath}: ${why}`);
    symbolFile = path.resolve(argv.symbols);
    exePath = symbolFile;
  }
  const packetLog = process.env.REWIND_RSP_LOG ? (l: string) => notice(`rsp ${l}`) : undefined;
  let gdbChild: ChildProcess | undefined;
  let gdbExit: Promise<number> | undefined;
  try {
    const files = new TraceFiles(trace, first.snapshot);
    // gdb reads the executable and libraries from the trace; --symbols FILE stands for the executable
    const openFile = (name: string): Buffer | undefined => {
      if (symbolFile && (name === exePath || name === symbolFile)) {
        try {
          return readFileSync(symbolFile);
        } catch {
          return undefined;
        }
      }
      const sha = files.lookup(name);
      return sha ? files.content(sha) : undefined;
    };
    const log = (t: string) => notice(t);
    const onOutput = (fd: number, data: Buffer) => writeAllSync(fd, data);
    // SIGUSR1 interrupts the command under way, as gdb's ^C does: also one gdb cannot
    // interrupt (a `monitor seek`, during which gdb sends nothing); for front ends
    // that own this process (rewind ui)
    let current: DebugSession | undefined;
    process.on('SIGUSR1', () => current?.interrupt());
    await serveReplay({
      startSession: async () => (current = await DebugSession.start(trace, { onOutput, openFile, log, process: debugged })),
      host: argv.host, port: argv.port, once: argv.once || argv.gdb, exePath, packetLog, log,
      onListening: (port) => {
        const where = `${argv.host.includes(':') ? `[${argv.host}]` : argv.host}:${port}`;
        notice(`serving ${trace.dir} to gdb on ${where}`);
        notice(`connect with: gdb -ex 'target extended-remote ${where}'`);
        if (argv.gdb) {
          // -l: a reply may take gdb's default 2 s on a loaded machine (src/mi/gdb-mi.ts)
          gdbChild = spawn(argv.gdbPath ?? 'gdb', ['-q', '-l', '10000', '-ex', `target extended-remote ${where}`], { stdio: 'inherit' });
          gdbExit = new Promise((resolve) => {
            gdbChild!.on('exit', (code) => resolve(code ?? 1));
            gdbChild!.on('error', (e) => {
              notice(`cannot start ${argv.gdbPath ?? 'gdb'}: ${e.message}`);
              process.exit(EXIT_REWIND_ERROR);
            });
          });
        }
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
  return gdbExit ? await gdbExit : 0;
}
