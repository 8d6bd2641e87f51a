// The command line: which command, with which options. Parsed with commander, which
// loads in a few milliseconds (yargs took ~80 ms of a 0.1 s budget for
// `rewind record -- /bin/true`: docs/benchmarks.md, start-up); each command's module
// is imported only when that command runs, so a record does not load the debugger
// and a replay --check not the protocol server.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EXIT_REWIND_ERROR, fail } from './output.js';

function integer(what: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${what} must be a whole number`);
    return Number(value);
  };
}

/** Runs the command named by argv and returns the status rewind exits with. */
async function run(argv: string[]): Promise<number> {
  let status = 0;
  const program = new Command('rewind')
    .usage('<command>')
    .description('Record a Linux x86-64 program, then debug that exact run with gdb, forwards and backwards.')
    // options after `record PROGRAM` are the program's
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .showSuggestionAfterError();

  program.command('record')
    .description('record a program')
    .usage('[-o DIR] -- PROGRAM [ARGS...]')
    .argument('[command...]', 'program and arguments')
    .option('-o, --output <dir>', 'trace directory (default: a new one under $REWIND_TRACE_DIR or ~/.local/share/rewind)')
    .option('--syscallbuf', 'buffer common syscalls inside the program (faster; default on unless REWIND_SYSCALLBUF=0)')
    .option('--no-syscallbuf', 'turn the syscall buffer off')
    .option('--portable', 'tell the program only of CPU features every x86-64-v3 CPU has (no AVX-512, no TSX), so the trace replays on more machines')
    // tests only (docs/portability.md): answer CPUID from a `cpuid -r` dump, as another machine would
    .addOption(new Option('--cpuid-from <file>').hideHelp())
    .passThroughOptions()
    .action(async (command: string[], o: { output?: string; syscallbuf?: boolean; portable?: boolean; cpuidFrom?: string }) => {
      const { recordCommand } = await import('./record-command.js');
      status = await recordCommand({ output: o.output, syscallbuf: o.syscallbuf, portable: o.portable ?? false, cpuidFrom: o.cpuidFrom, command });
    });

  program.command('replay')
    .description('replay a trace (default: the latest)')
    .argument('[trace]')
    .option('--check', 'replay headless to the end, echoing the program\'s stdout/stderr, exit with its status')
    .option('--port <port>', 'serve gdb on this TCP port (0: any free port)', integer('--port'), 2345)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--once', 'exit when gdb disconnects instead of waiting for the next connection', false)
    .option('--gdb', 'start gdb already connected', false)
    .option('--gdb-path <path>', 'the gdb to start with --gdb')
    .option('--symbols <file>', 'serve symbols from FILE (checked against the recorded executable)')
    .action(async (trace: string | undefined, o: { check?: boolean; port: number; host: string; once: boolean; gdb: boolean; gdbPath?: string; symbols?: string }) => {
      if (o.check) {
        const { replayCheckCommand } = await import('./replay-check-command.js');
        status = await replayCheckCommand({ trace });
        return;
      }
      const { replayServeCommand } = await import('./replay-command.js');
      status = await replayServeCommand({ trace, port: o.port, host: o.host, once: o.once, gdb: o.gdb, gdbPath: o.gdbPath, symbols: o.symbols });
    });

  program.command('dump')
    .description('print the events of a trace, one per line')
    .argument('[trace]')
    .option('--from <n>', 'first event number', integer('--from'))
    .option('--count <k>', 'how many events', integer('--count'))
    .action(async (trace: string | undefined, o: { from?: number; count?: number }) => {
      const { dumpCommand } = await import('./dump-command.js');
      status = dumpCommand({ trace, from: o.from, count: o.count });
    });

  program.command('pack')
    .description('make a trace self-contained and compact, to move it to another machine (default: the latest)')
    .argument('[trace]')
    .action(async (trace: string | undefined) => {
      const { packCommand } = await import('./pack-command.js');
      status = packCommand({ trace });
    });

  program.command('store')
    .description('show the file store that traces share (--prune: remove the files no trace links)')
    .option('--prune', 'remove the files no trace links any more', false)
    .action(async (o: { prune: boolean }) => {
      const { storeCommand } = await import('./store-command.js');
      status = storeCommand({ prune: o.prune });
    });

  program.command('ls')
    .description('list the traces, newest first')
    .action(async () => {
      const { lsCommand } = await import('./ls-command.js');
      status = lsCommand();
    });

  program.command('dap')
    .description('serve the Debug Adapter Protocol on stdin/stdout (for VS Code; see editors/vscode)')
    .action(async () => {
      const { dapCommand } = await import('./dap-command.js');
      status = await dapCommand();
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    // --help has printed what was asked; without a command, the help went to stderr
    if (e.code === 'commander.helpDisplayed') return 0;
    if (e.code === 'commander.help') return EXIT_REWIND_ERROR;
    fail(`${e.message.replace(/^error: /, '')} (see rewind --help)`);
  }
  return status;
}

run(process.argv.slice(2)).then((status) => { process.exitCode = status; }, (e) => fail((e as Error).message));
