// Helpers for the gdb tests: serve a trace with `rewind replay --once --port 0`,
// drive the real gdb in batch mode against it, and run the same commands natively.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CLI, rewind, runNative, tempDir, type RunResult } from '../helpers.js';

export const GDB_TIMEOUT_MS = 90_000;
/** how long a server may take to start listening before the test gives up on it */
const SERVER_START_MS = 90_000;
export const MARK = '==rewind-mark==';

export interface Server {
  port: number;
  child: ChildProcess;
  stderr: () => string;
  /** resolves with the exit status once the server exits */
  exited: Promise<number | null>;
  kill(): void;
}

/**
 * Starts `rewind replay TRACE --port 0 [--once] ...` and waits for its port. The
 * server is killed after `lifetimeMs` (default 180 s) whatever happens. The limits
 * are guards against hangs, generous because a loaded machine may be slow to start
 * a node process: they never decide a result.
 */
export function startServer(trace: string, extra: string[] = ['--once'], opts: { lifetimeMs?: number; env?: Record<string, string> } = {}): Promise<Server> {
  const env = opts.env ? { ...process.env, ...opts.env } : process.env;
  // The server's stderr goes to a file, not a pipe: gdb runs synchronously (spawnSync)
  // while the server serves it, so nothing would drain a pipe, and a server that logs
  // more than a pipe holds (REWIND_TRACE_RUNS, stacks) would wait on it while gdb
  // waits on the server, until gdb's timeout.
  const logPath = path.join(tempDir('rewind-server-'), 'stderr');
  const log = fs.openSync(logPath, 'w+');
  const child = spawn(process.execPath, [CLI, 'replay', trace, '--port', '0', ...extra], { stdio: ['ignore', 'pipe', log], env });
  fs.closeSync(log);
  // (once the test has ended, its temporary directory is gone: what was logged is kept)
  let last = '';
  const err = () => {
    try {
      last = fs.readFileSync(logPath, 'utf8');
    } catch {
      // removed with the test's directory
    }
    return last;
  };
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.lifetimeMs ?? 180_000);
  child.on('exit', () => clearTimeout(timer));
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(giveUp);
      clearInterval(poll);
    };
    const giveUp = setTimeout(() => {
      done();
      child.kill('SIGKILL');
      reject(new Error(`the server did not start listening within ${SERVER_START_MS / 1000} s:\n${err()}`));
    }, SERVER_START_MS);
    const poll = setInterval(() => {
      const m = /on 127\.0\.0\.1:(\d+)/.exec(err());
      if (m) {
        done();
        resolve({ port: Number(m[1]), child, stderr: err, exited, kill: () => child.kill('SIGKILL') });
      }
    }, 20);
    child.on('exit', (code) => {
      done();
      reject(new Error(`the server exited (${code}) before listening:\n${err()}`));
    });
  });
}

function gdbArgs(commands: string[]): string[] {
  // -l 10000: gdb's remotetimeout, as rewind replay --gdb and rr start gdb (its default
  // of 2 s lets a reply slowed by load be taken for the next packet's)
  return ['-batch', '-nx', '-l', '10000', '-ex', 'set pagination off', '-ex', 'set width 0', '-ex', 'set confirm off', ...commands.flatMap((c) => ['-ex', c])];
}

/**
 * gdb with its stderr in its stdout, in the order gdb wrote them (`merged`: the console
 * text a server sends goes to gdb's stderr, what gdb prints itself to its stdout), or not.
 */
function gdb(args: string[], merged: boolean | undefined): string[] {
  return merged ? ['sh', '-c', 'exec gdb "$@" 2>&1', 'gdb', ...args] : ['gdb', ...args];
}

/** gdb -batch against a served replay; `commands` run after reaching main. */
export function gdbRemote(port: number, commands: string[], opts: { breakMain?: boolean; timeoutMs?: number; extended?: boolean; merged?: boolean } = {}): RunResult {
  const start = opts.breakMain === false ? [] : ['break main', 'continue'];
  const target = opts.extended ? 'extended-remote' : 'remote';
  return runNative(gdb(gdbArgs([`target ${target} 127.0.0.1:${port}`, ...start, `echo ${MARK}\\n`, ...commands]), opts.merged), {
    timeoutMs: opts.timeoutMs ?? GDB_TIMEOUT_MS,
  });
}

/** gdb -batch running the program natively; `commands` run after reaching main. */
export function gdbNative(program: string, commands: string[], opts: { merged?: boolean } = {}): RunResult {
  return runNative(gdb([...gdbArgs(['break main', 'run > /dev/null', `echo ${MARK}\\n`, ...commands]), program], opts.merged), {
    timeoutMs: GDB_TIMEOUT_MS,
  });
}

/** What gdb printed after the mark, with process ids and file-transfer chatter normalised. */
export function afterMark(r: RunResult): string {
  const text = r.stdout.toString('utf8') + '\n' + r.stderr.toString('utf8');
  const at = text.indexOf(MARK);
  const body = at < 0 ? text : text.slice(at + MARK.length);
  return body
    .split('\n')
    .filter((l) => !/^Reading .* from remote target\.\.\.$/.test(l) && !/^warning: File transfers from remote targets/.test(l))
    .filter((l) => !/^\[Inferior 1 \(process \d+\) (detached|killed)\]$/.test(l))
    .map((l) => l.replace(/\(process \d+\)/g, '(process N)').replace(/target:(\/)/g, '$1'))
    // gdb gives a natively run program a slightly different environment (LINES,
    // COLUMNS), which moves the stack by a few bytes: stack addresses are not compared
    .map((l) => l.replace(/0x(0000)?7ffffff[0-9a-f]{5}/g, '0x<stack>'))
    .join('\n')
    .trim();
}

/**
 * A replay transcript without its one stop at the end of the recording ("No more
 * reverse-execution history.", the frame, and that frame's source line), for
 * comparing with gdb on the native program, which has no such stop: the replay
 * needs one more `continue` to reach the recorded exit. Throws when there is no
 * such stop, or more than one.
 */
export function withoutEndOfHistory(text: string): string {
  const lines = text.split('\n');
  const at = lines.indexOf('No more reverse-execution history.');
  if (at < 0 || lines.indexOf('No more reverse-execution history.', at + 1) >= 0) {
    throw new Error(`expected one stop at the end of the recording in:\n${text}`);
  }
  const frame = / at .*:(\d+)$/.exec(lines[at + 1] ?? '');
  lines.splice(at - (lines[at - 1] === '' ? 1 : 0), lines[at - 1] === '' ? 3 : 2);
  if (frame) {
    const source = lines.findIndex((l, i) => i >= at - 1 && l.startsWith(`${frame[1]}\t`));
    if (source >= 0) lines.splice(source, 1);
  }
  return lines.join('\n').trim();
}

/** Records PROGRAM into a fresh trace directory (`syscallbuf`: with the syscall buffer; `options`: more of record's); returns the trace path. */
export function record(program: string, args: string[] = [], opts: { syscallbuf?: boolean; options?: string[] } = {}): string {
  const root = tempDir('rewind-gdb-');
  const trace = path.join(root, 'trace');
  // These tests compare gdb's output with a native run byte for byte: without the
  // syscall buffer's preload library, libraries load at the same addresses as natively.
  const r = rewind(['record', ...(opts.syscallbuf ? [] : ['--no-syscallbuf']), ...(opts.options ?? []), '-o', trace, '--', program, ...args], { traceRoot: root });
  if (!/trace saved to/.test(r.stderr.toString())) throw new Error(`recording ${program} failed:\n${r.stderr}`);
  return trace;
}

/** Serves the trace once and runs gdb against it; returns gdb's result and the server's stderr. */
export async function debugReplay(trace: string, commands: string[], opts: { breakMain?: boolean; extra?: string[]; extended?: boolean; env?: Record<string, string>; timeoutMs?: number; merged?: boolean } = {}): Promise<{ gdb: RunResult; server: string; status: number | null }> {
  const server = await startServer(trace, opts.extra ?? ['--once'], { env: opts.env });
  try {
    const gdb = gdbRemote(server.port, commands, opts);
    const status = await Promise.race([server.exited, new Promise<null>((r) => setTimeout(() => r(null), 60_000))]);
    return { gdb, server: server.stderr(), status };
  } finally {
    server.kill();
  }
}
