import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { recordCommand } from './record-command.js';
import { replayCheckCommand, replayServeCommand } from './replay-command.js';
import { dumpCommand } from './dump-command.js';
import { lsCommand } from './ls-command.js';
import { psCommand } from './ps-command.js';
import { dapCommand } from './dap-command.js';
import { uiCommand } from './ui-command.js';
import { fail } from './output.js';

async function main(): Promise<void> {
  let status = 0;
  await yargs(hideBin(process.argv))
    .scriptName('rewind')
    .usage('$0 <command>\n\nRecord a Linux x86-64 program, then debug that exact run with gdb, forwards and backwards.')
    .command(
      'record [command..]', 'record a program: rewind record [-o DIR] -- PROGRAM [ARGS...]',
      (y) => y.option('output', { alias: 'o', type: 'string', describe: 'trace directory (default: a new one under $REWIND_TRACE_DIR or ~/.local/share/rewind)' })
        .positional('command', { type: 'string', array: true, describe: 'program and arguments' })
        .option('syscallbuf', { type: 'boolean', describe: 'buffer common syscalls inside the program (faster; default on unless REWIND_SYSCALLBUF=0); --no-syscallbuf turns it off' })
        .option('portable', { type: 'boolean', default: false, describe: 'tell the program only of CPU features every x86-64-v3 CPU has (no AVX-512, no TSX), so the trace replays on more machines' })
        // tests only (docs/portability.md): answer CPUID from a `cpuid -r` dump, as another machine would
        .option('cpuid-from', { type: 'string', hidden: true })
        .parserConfiguration({ 'populate--': true }),
      async (argv) => {
        const rest = (argv['--'] as unknown[] | undefined) ?? [];
        status = await recordCommand({
          output: argv.output, syscallbuf: argv.syscallbuf, portable: argv.portable, cpuidFrom: argv['cpuid-from'],
          command: [...(argv.command ?? []), ...rest].map(String),
        });
      },
    )
    .command(
      'replay [trace]', 'replay a trace (default: the latest)',
      (y) => y.positional('trace', { type: 'string' })
        .option('check', { type: 'boolean', describe: 'replay headless to the end, echoing the program\'s stdout/stderr, exit with its status' })
        .option('port', { type: 'number', default: 2345, describe: 'serve gdb on this TCP port (0: any free port)' })
        .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
        .option('once', { type: 'boolean', default: false, describe: 'exit when gdb disconnects instead of waiting for the next connection' })
        .option('gdb', { type: 'boolean', default: false, describe: 'start gdb already connected' })
        .option('gdb-path', { type: 'string', describe: 'the gdb to start with --gdb' })
        .option('symbols', { type: 'string', describe: 'serve symbols from FILE (checked against the recorded executable)' })
        .option('pid', { type: 'string', describe: 'debug this process of the recording: its recorded pid or command name (see rewind ps; default the first)' }),
      async (argv) => {
        if (argv.check) {
          status = await replayCheckCommand({ trace: argv.trace });
          return;
        }
        status = await replayServeCommand({
          trace: argv.trace, port: argv.port, host: argv.host, once: argv.once, gdb: argv.gdb,
          gdbPath: argv['gdb-path'], symbols: argv.symbols, pid: argv.pid,
        });
      },
    )
    .command(
      'dump [trace]', 'print the events of a trace, one per line',
      (y) => y.positional('trace', { type: 'string' })
        .option('from', { type: 'number', describe: 'first event number' })
        .option('count', { type: 'number', describe: 'how many events' }),
      (argv) => {
        status = dumpCommand({ trace: argv.trace, from: argv.from, count: argv.count });
      },
    )
    .command('ps [trace]', 'list the processes of a trace: pid, parent, how it ended, command line', (y) => y.positional('trace', { type: 'string' }), (argv) => {
      status = psCommand({ trace: argv.trace });
    })
    .command('ls', 'list the traces, newest first', () => undefined, () => {
      status = lsCommand();
    })
    .command('dap', 'serve the Debug Adapter Protocol on stdin/stdout (for VS Code; see editors/vscode)', () => undefined, async () => {
      status = await dapCommand();
    })
    .command(
      'ui [trace]', 'browse a trace on a timeline in the browser (default: the latest)',
      (y) => y.positional('trace', { type: 'string' })
        .option('port', { type: 'number', default: 0, describe: 'serve the page on this TCP port of 127.0.0.1 (0: any free port)' })
        .option('open', { type: 'boolean', default: false, describe: 'open the page in the default browser' })
        .option('symbols', { type: 'string', describe: 'read symbols from FILE (checked against the recorded executable)' }),
      async (argv) => {
        status = await uiCommand({ trace: argv.trace, port: argv.port, open: argv.open, symbols: argv.symbols });
      },
    )
    .demandCommand(1, 'name a command: record, replay, dump, ps, ls, dap or ui')
    .strict()
    .fail((msg, err) => fail(err ? err.message : `${msg} (see rewind --help)`))
    .help()
    .parseAsync();
  process.exitCode = status;
}

main().catch((e) => fail((e as Error).message));
