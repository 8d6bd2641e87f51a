// Helpers for the lldb tests: find Debian's lldb-19 (installing it through apt
// when it is missing, as .ci/run does), run it in batch mode against a served
// replay (`gdb-remote`) or on the program natively, and cut its transcript into
// one block of output per command so that the two runs can be compared.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runNative, tempDir, type RunResult } from '../helpers.js';
import { startServer } from './gdb-support.js';

export const LLDB_TIMEOUT_MS = 60_000;

function onPath(tool: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

let found: string | undefined;

/** The lldb binary (lldb-19, else lldb); installs lldb-19 through apt when neither is there. */
export function lldbBinary(): string {
  found ??= onPath('lldb-19') ?? onPath('lldb');
  if (found) return found;
  const apt = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lldb-19'], {
    encoding: 'utf8', timeout: 600_000,
  });
  found = onPath('lldb-19') ?? onPath('lldb');
  if (!found) {
    throw new Error(
      'rewind lldb tests: neither `lldb-19` nor `lldb` is on PATH, and `apt-get install lldb-19` did not provide it ' +
        `(exit ${apt.status}): ${(apt.stderr || apt.stdout || '').trim().slice(-500)}`,
    );
  }
  return found;
}

/** lldb -b with a command file: no ~/.lldbinit, no colours. */
function runLldb(program: string, commands: string[], cwd?: string): RunResult {
  const file = path.join(tempDir('rewind-lldb-'), 'commands');
  writeFileSync(file, commands.join('\n') + '\n');
  return runNative([lldbBinary(), '--no-lldbinit', '--no-use-colors', '-b', '-s', file, program], {
    timeoutMs: LLDB_TIMEOUT_MS,
    env: { TERM: 'dumb' },
    cwd,
  });
}

export interface Transcript {
  /** everything lldb printed, stdout and stderr */
  text: string;
  /** what each command printed, in order: the command as echoed, and its output */
  blocks: { command: string; output: string }[];
}

/** Cuts lldb's batch transcript at its '(lldb) command' echoes. */
export function transcript(r: RunResult): Transcript {
  const text = r.stdout.toString('utf8') + '\n' + r.stderr.toString('utf8');
  const blocks: { command: string; output: string }[] = [];
  for (const line of r.stdout.toString('utf8').split('\n')) {
    const m = /^\(lldb\) (.*)$/.exec(line);
    if (m) blocks.push({ command: m[1], output: '' });
    else if (blocks.length) blocks[blocks.length - 1].output += line + '\n';
  }
  return { text, blocks };
}

/** The output of the n-th (0-based) run of a command. */
export function outputOf(t: Transcript, command: string, n = 0): string {
  const all = t.blocks.filter((b) => b.command === command);
  if (n >= all.length) throw new Error(`lldb did not run \`${command}\` ${n + 1} time(s):\n${t.text}`);
  return all[n].output;
}

/** lldb -b against a served replay: `gdb-remote`, then the commands. */
export async function lldbReplay(trace: string, program: string, commands: string[], cwd?: string): Promise<{ lldb: Transcript; server: string; result: RunResult }> {
  const server = await startServer(trace);
  try {
    const result = runLldb(program, [`gdb-remote 127.0.0.1:${server.port}`, ...commands], cwd);
    return { lldb: transcript(result), server: server.stderr(), result };
  } finally {
    server.kill();
  }
}

/** lldb -b running the program natively (its output to /dev/null), stopped at main first. */
export function lldbNative(program: string, commands: string[]): Transcript {
  return transcript(runLldb(program, ['breakpoint set -n main', 'process launch -o /dev/null', ...commands]));
}

/**
 * A block with what differs between two runs of the same program taken out:
 * process ids, and stack addresses (lldb gives a natively launched program a
 * slightly different environment, which moves the stack by a few bytes).
 */
export function normalise(output: string): string {
  return output
    .replace(/Process \d+/g, 'Process N')
    .replace(/tid = \d+/g, 'tid = N')
    .replace(/0x0000(7ffffff[0-9a-f]{5})/g, '0x<stack>')
    .replace(/0x7ffffff[0-9a-f]{5}/g, '0x<stack>');
}
