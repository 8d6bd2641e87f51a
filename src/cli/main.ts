// The command line: the table of commands and their options, parsed by
// command-line.ts (util.parseArgs). Each command's module is imported only when that
// command runs, so a record does not load the debugger and a replay --check not the
// protocol server (docs/startup.md).
import { type CommandSpec, type OptionValues, parseCommandLine, UsageError } from './command-line.js';
import { EXIT_REWIND_ERROR, fail, writeAllSync } from './output.js';

globalThis.__rewindMark?.('main');
const TRACE_OPTIONAL = '[TRACE]';

const COMMANDS: (CommandSpec & { run(v: OptionValues, positionals: string[]): Promise<number> })[] = [
  {
    name: 'record', usage: '[-o DIR] -- PROGRAM [ARGS...]', describe: 'record a program', positionals: 'program',
    options: [
      { name: 'output', short: 'o', type: 'string', value: 'dir', describe: 'trace directory (default: a new one under $REWIND_TRACE_DIR or ~/.local/share/rewind)' },
      { name: 'syscallbuf', type: 'boolean', negatable: true, describe: 'buffer common syscalls inside the program (faster; default on unless REWIND_SYSCALLBUF=0)' },
      { name: 'portable', type: 'boolean', default: false, describe: 'tell the program only of CPU features every x86-64-v3 CPU has (no AVX-512, no TSX), so the trace replays on more machines' },
      { name: 'chaos', type: 'boolean', default: false, describe: 'preempt threads after random time slices and run a random ready thread next (seeded, the seed printed), so that rare interleavings show up' },
      { name: 'chaos-seed', type: 'integer', value: 'n', describe: 'the seed of --chaos (default: a random one)' },
      { name: 'slice', type: 'string', value: 'ms', describe: 'preempt a thread that computes without syscalls after this many milliseconds while another is ready (default 50; shorter: more switches recorded)' },
      // tests only (docs/portability.md): answer CPUID from a `cpuid -r` dump, as another machine would
      { name: 'cpuid-from', type: 'string', hidden: true, describe: '' },
    ],
    async run(v, command) {
      const { recordCommand } = await import('./record-command.js');
      return recordCommand({
        output: v.output as string | undefined, syscallbuf: v.syscallbuf as boolean | undefined, portable: v.portable as boolean,
        cpuidFrom: v['cpuid-from'] as string | undefined, command,
        chaos: v.chaos as boolean, chaosSeed: v['chaos-seed'] as number | undefined, slice: v.slice as string | undefined,
      });
    },
  },
  {
    name: 'replay', usage: `${TRACE_OPTIONAL} [options]`, describe: 'replay a trace (default: the latest)', positionals: 'trace',
    options: [
      { name: 'check', type: 'boolean', describe: 'replay headless to the end, echoing the program\'s stdout/stderr, exit with its status' },
      { name: 'port', type: 'integer', value: 'port', default: 2345, describe: 'serve gdb on this TCP port (0: any free port)' },
      { name: 'host', type: 'string', value: 'addr', default: '127.0.0.1', describe: 'address to listen on' },
      { name: 'once', type: 'boolean', default: false, describe: 'exit when gdb disconnects instead of waiting for the next connection' },
      { name: 'gdb', type: 'boolean', default: false, describe: 'start gdb already connected' },
      { name: 'gdb-path', type: 'string', value: 'path', describe: 'the gdb to start with --gdb' },
      { name: 'symbols', type: 'string', value: 'file', describe: 'serve symbols from FILE (checked against the recorded executable)' },
      { name: 'pid', type: 'string', value: 'pid', describe: 'debug this process of the recording: its recorded pid or command name (see rewind ps; default the first)' },
    ],
    async run(v, [trace]) {
      if (v.check) {
        const { replayCheckCommand } = await import('./replay-check-command.js');
        return replayCheckCommand({ trace });
      }
      const { replayServeCommand } = await import('./replay-command.js');
      return replayServeCommand({
        trace, port: v.port as number, host: v.host as string, once: v.once as boolean, gdb: v.gdb as boolean,
        gdbPath: v['gdb-path'] as string | undefined, symbols: v.symbols as string | undefined, pid: v.pid as string | undefined,
      });
    },
  },
  {
    name: 'dump', usage: `${TRACE_OPTIONAL} [--from N] [--count K]`, describe: 'print the events of a trace, one per line', positionals: 'trace',
    options: [
      { name: 'from', type: 'integer', value: 'n', describe: 'first event number' },
      { name: 'count', type: 'integer', value: 'k', describe: 'how many events' },
    ],
    async run(v, [trace]) {
      const { dumpCommand } = await import('./dump-command.js');
      return dumpCommand({ trace, from: v.from as number | undefined, count: v.count as number | undefined });
    },
  },
  {
    name: 'pack', usage: TRACE_OPTIONAL, describe: 'make a trace self-contained and compact, to move it to another machine (default: the latest)',
    positionals: 'trace', options: [],
    async run(_v, [trace]) {
      const { packCommand } = await import('./pack-command.js');
      return packCommand({ trace });
    },
  },
  {
    name: 'store', usage: '[--prune]', describe: 'show the file store that traces share', positionals: 'none',
    options: [{ name: 'prune', type: 'boolean', default: false, describe: 'remove the files no trace links any more' }],
    async run(v) {
      const { storeCommand } = await import('./store-command.js');
      return storeCommand({ prune: v.prune as boolean });
    },
  },
  {
    name: 'ps', usage: TRACE_OPTIONAL, describe: 'list the processes of a trace: pid, parent, how it ended, command line (default: the latest)',
    positionals: 'trace', options: [],
    async run(_v, [trace]) {
      const { psCommand } = await import('./ps-command.js');
      return psCommand({ trace });
    },
  },
  {
    name: 'ls', usage: '', describe: 'list the traces, newest first', positionals: 'none', options: [],
    async run() {
      const { lsCommand } = await import('./ls-command.js');
      return lsCommand();
    },
  },
  {
    name: 'dap', usage: '', describe: 'serve the Debug Adapter Protocol on stdin/stdout (for VS Code; see editors/vscode)', positionals: 'none', options: [],
    async run() {
      const { dapCommand } = await import('./dap-command.js');
      return dapCommand();
    },
  },
  {
    name: 'ui', usage: `${TRACE_OPTIONAL} [--port N] [--open] [--symbols FILE]`, describe: 'browse a trace on a timeline in the browser (default: the latest)',
    positionals: 'trace',
    options: [
      { name: 'port', type: 'integer', value: 'port', default: 0, describe: 'serve the page on this TCP port of 127.0.0.1 (0: any free port)' },
      { name: 'open', type: 'boolean', default: false, describe: 'open the page in the default browser' },
      { name: 'symbols', type: 'string', value: 'file', describe: 'read symbols from FILE (checked against the recorded executable)' },
    ],
    async run(v, [trace]) {
      const { uiCommand } = await import('./ui-command.js');
      return uiCommand({ trace, port: v.port as number, open: v.open as boolean, symbols: v.symbols as string | undefined });
    },
  },
];

const ABOUT = 'Record a Linux x86-64 program, then debug that exact run with gdb, forwards and backwards.';

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine('rewind', ABOUT, COMMANDS, args);
  } catch (e) {
    if (e instanceof UsageError) fail(`${e.message} (see rewind --help)`);
    throw e;
  }
  if ('help' in parsed) {
    writeAllSync(parsed.failed ? 2 : 1, Buffer.from(parsed.help));
    return parsed.failed ? EXIT_REWIND_ERROR : 0;
  }
  const command = COMMANDS.find((c) => c === parsed.command)!;
  return command.run(parsed.values, parsed.positionals);
}

main(process.argv.slice(2)).then((status) => { process.exitCode = status; }, (e) => fail((e as Error).message));
