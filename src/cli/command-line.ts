// Parsing a command line against a table of commands (main.ts), with Node's own
// util.parseArgs, and the help that table prints. A CLI library was the first
// choice; but rewind's start-up budget is 0.1 s for a whole recording, commander
// took ~10 ms of it and yargs ~80 ms (docs/startup.md), and parseArgs costs ~1 ms:
// what is left here is the table's help text and the errors' wording.
import { parseArgs } from 'node:util';

export interface OptionSpec {
  name: string;
  short?: string;
  type: 'string' | 'boolean' | 'integer';
  /** the value's name in help (`--port <port>`) */
  value?: string;
  default?: string | boolean | number;
  describe: string;
  /** left out of --help (options for tests) */
  hidden?: boolean;
  /** `--no-NAME` turns a boolean off (undefined when neither is given) */
  negatable?: boolean;
}

export interface CommandSpec {
  name: string;
  /** what follows the name in help: `[TRACE]`, `[-o DIR] -- PROGRAM [ARGS...]` */
  usage: string;
  describe: string;
  options: OptionSpec[];
  /** how many positionals: 'trace' (at most one), 'none', or 'program' (the rest of the line, options included) */
  positionals: 'trace' | 'none' | 'program';
}

export type OptionValues = Record<string, string | boolean | number | undefined>;

export interface Parsed {
  command: CommandSpec;
  values: OptionValues;
  positionals: string[];
}

/** A usage error: the message is printed as `rewind: error: MESSAGE (see rewind --help)`. */
export class UsageError extends Error {}

/** What the caller does instead of a command: print help (to stdout; to stderr, failing, without a command). */
export type HelpRequest = { help: string; failed: boolean };

function optionLine(o: OptionSpec): [string, string] {
  const value = o.type === 'boolean' ? '' : ` <${o.value ?? 'value'}>`;
  const flag = `${o.short ? `-${o.short}, ` : ''}--${o.name}${value}`;
  const def = o.default !== undefined && o.type !== 'boolean' ? ` (default: ${o.default})` : '';
  return [o.negatable ? `${flag}, --no-${o.name}` : flag, o.describe + def];
}

function table(rows: [string, string][]): string {
  const width = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`).join('\n');
}

export function programHelp(name: string, describe: string, commands: CommandSpec[]): string {
  return `Usage: ${name} <command> [options]\n\n${describe}\n\nCommands:\n`
    + table(commands.map((c) => [`${c.name} ${c.usage}`.trim(), c.describe]))
    + `\n\n${name} <command> --help describes a command's options.\n`;
}

export function commandHelp(name: string, c: CommandSpec): string {
  const rows = c.options.filter((o) => !o.hidden).map(optionLine);
  rows.push(['-h, --help', 'show this help']);
  return `Usage: ${name} ${c.name} ${c.usage}\n\n${c.describe}\n\nOptions:\n${table(rows)}\n`;
}

/**
 * The options before the program (record): up to `--` or the first word that is not
 * an option (or an option's value); what follows is the program's.
 */
function splitAtProgram(args: string[], c: CommandSpec): [string[], string[]] {
  const takesValue = new Set(c.options.filter((o) => o.type !== 'boolean').flatMap((o) => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])]));
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--') return [args.slice(0, i), args.slice(i + 1)];
    if (!args[i].startsWith('-') || args[i] === '-') return [args.slice(0, i), args.slice(i)];
    if (takesValue.has(args[i])) i++;
  }
  return [args, []];
}

/** Parses `args` (without node and the script) against the commands; a help request instead when asked for. */
export function parseCommandLine(name: string, describe: string, commands: CommandSpec[], args: string[]): Parsed | HelpRequest {
  const [first, ...rest] = args;
  if (first === undefined) return { help: programHelp(name, describe, commands), failed: true };
  if (first === '--help' || first === '-h' || first === 'help') {
    const about = commands.find((c) => c.name === rest[0]);
    return { help: about ? commandHelp(name, about) : programHelp(name, describe, commands), failed: false };
  }
  const command = commands.find((c) => c.name === first);
  if (!command) throw new UsageError(first.startsWith('-') ? `unknown option '${first}'` : `unknown command '${first}'`);
  const [own, program] = command.positionals === 'program' ? splitAtProgram(rest, command) : [rest, []];
  if (own.includes('--help') || own.includes('-h')) return { help: commandHelp(name, command), failed: false };
  const options: NonNullable<Parameters<typeof parseArgs>[0]>['options'] = {};
  for (const o of command.options) {
    options[o.name] = { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}) };
    if (o.negatable) options[`no-${o.name}`] = { type: 'boolean' };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: own, options, allowPositionals: command.positionals !== 'none', strict: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const m = /'(-[^']*)'/.exec((e as Error).message);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && m) throw new UsageError(`unknown option '${m[1]}'`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && m) throw new UsageError(`option '${m[1].split(' ')[0]}' needs a value`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`${name} ${command.name} takes no argument`);
    throw new UsageError((e as Error).message);
  }
  const values: OptionValues = {};
  for (const o of command.options) {
    let v: string | boolean | number | undefined = parsed.values[o.name] as string | boolean | undefined;
    if (o.negatable && parsed.values[`no-${o.name}`]) v = false;
    if (v === undefined) v = o.default;
    if (o.type === 'integer' && typeof v === 'string') {
      if (!/^\d+$/.test(v)) throw new UsageError(`--${o.name} must be a whole number, not '${v}'`);
      v = Number(v);
    }
    values[o.name] = v;
  }
  const positionals = [...parsed.positionals, ...program];
  if (command.positionals === 'trace' && positionals.length > 1) throw new UsageError(`${name} ${command.name} takes one trace, not ${positionals.length} arguments`);
  return { command, values, positionals };
}
