// Shared helpers for the integration tests: paths of the built test programs,
// running commands natively or under `node bin/rewind.js` with a timeout,
// temporary directories that clean themselves up, and record-then-replay.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, onTestFinished } from 'vitest';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BUILD_DIR = path.join(ROOT, 'tests', '.build');
export const PROGRAMS_DIR = path.join(ROOT, 'tests', 'programs');
export const CLI = path.join(ROOT, 'bin', 'rewind.js');

/** Every command is killed after this long and the test fails, naming the command. */
export const DEFAULT_TIMEOUT_MS = 60_000;

export interface RunOptions {
  /** Bytes for standard input; without it stdin is /dev/null. */
  stdin?: string | Buffer;
  /** Added to (or, with undefined values, removed from) the inherited environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
}

export interface RunResult {
  /** Exit status, or null when killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  /** The command line, for messages. */
  command: string[];
}

export interface RewindOptions extends RunOptions {
  /** REWIND_TRACE_DIR for this call; by default a fresh temporary directory. */
  traceRoot?: string;
}

export interface RewindResult extends RunResult {
  /** The REWIND_TRACE_DIR the command ran with. */
  traceRoot: string;
}

// ---------------------------------------------------------------------------
// temporary directories

const pendingDirs = new Set<string>();
const keepTemp = !!process.env.REWIND_KEEP_TEMP;

function removeDir(dir: string): void {
  pendingDirs.delete(dir);
  if (!keepTemp) rmSync(dir, { recursive: true, force: true });
}

afterAll(() => {
  for (const dir of [...pendingDirs]) removeDir(dir);
});

/**
 * A new empty directory under the system temp dir. Made inside a test, it is
 * removed when the test finishes; made elsewhere (beforeAll, describe), when
 * the test file finishes. Set REWIND_KEEP_TEMP=1 to keep them for debugging.
 */
export function tempDir(prefix = 'rewind-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  pendingDirs.add(dir);
  try {
    onTestFinished(() => removeDir(dir));
  } catch {
    // not inside a test: the afterAll above removes it
  }
  return dir;
}

// ---------------------------------------------------------------------------
// programs and commands

/** Path of a built test program (tests/.build/NAME or NAME.static). */
export function programPath(name: string, opts: { static?: boolean } = {}): string {
  return path.join(BUILD_DIR, opts.static ? `${name}.static` : name);
}

/** Whether the global setup managed to build this program (variant). */
export function programBuilt(name: string, opts: { static?: boolean } = {}): boolean {
  return existsSync(programPath(name, opts));
}

/** Static variants the global setup could not link, with the linker's message. */
export function staticBuildFailures(): Record<string, string> {
  try {
    const report = JSON.parse(readFileSync(path.join(BUILD_DIR, 'build-report.json'), 'utf8')) as {
      staticSkipped?: Record<string, string>;
    };
    return report.staticSkipped ?? {};
  } catch {
    return {};
  }
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(cmd: string[]): string {
  return cmd.map(quote).join(' ');
}

function mergeEnv(extra?: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs a command to completion; throws (failing the test) if it times out or cannot start. */
export function runNative(cmd: string[], opts: RunOptions = {}): RunResult {
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const r = spawnSync(cmd[0], cmd.slice(1), {
    input: opts.stdin,
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: mergeEnv(opts.env),
    cwd: opts.cwd,
    timeout,
    killSignal: 'SIGKILL',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ETIMEDOUT') {
      const err = (r.stderr ?? Buffer.alloc(0)).toString('utf8');
      throw new Error(
        `timed out after ${timeout / 1000} s (killed): ${commandLine(cmd)}` +
          (err ? `\n--- its stderr so far ---\n${tail(err)}` : ''),
      );
    }
    throw new Error(`cannot run ${commandLine(cmd)}: ${r.error.message}`);
  }
  return {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout ?? Buffer.alloc(0),
    stderr: r.stderr ?? Buffer.alloc(0),
    command: cmd,
  };
}

/**
 * Runs `node bin/rewind.js ARGS...` with REWIND_TRACE_DIR set to
 * opts.traceRoot or to a fresh temporary directory.
 */
export function rewind(args: string[], opts: RewindOptions = {}): RewindResult {
  const traceRoot = opts.traceRoot ?? opts.env?.REWIND_TRACE_DIR ?? tempDir('rewind-traces-');
  const r = runNative([process.execPath, CLI, ...args], {
    ...opts,
    env: { ...opts.env, REWIND_TRACE_DIR: traceRoot },
  });
  return { ...r, traceRoot };
}

export interface RecordAndReplayOptions extends RunOptions {
  /** Environment for the replay only (default: same as opts.env). */
  replayEnv?: Record<string, string | undefined>;
}

export interface RecordAndReplayResult {
  record: RewindResult;
  replay: RewindResult;
  traceDir: string;
}

/**
 * `rewind record -o DIR -- CMD...` (with opts.stdin as its stdin), then
 * `rewind replay --check DIR` with no stdin.
 */
export function recordAndReplay(cmd: string[], opts: RecordAndReplayOptions = {}): RecordAndReplayResult {
  const root = tempDir('rewind-rr-');
  const traceDir = path.join(root, 'trace');
  const { replayEnv, stdin, ...common } = opts;
  const record = rewind(['record', '-o', traceDir, '--', ...cmd], { ...common, stdin, traceRoot: root });
  const replay = rewind(['replay', '--check', traceDir], {
    ...common,
    env: replayEnv ?? common.env,
    traceRoot: root,
  });
  return { record, replay, traceDir };
}

// ---------------------------------------------------------------------------
// comparing runs

function tail(text: string, lines = 30): string {
  const all = text.split('\n');
  return all.length > lines ? ['...', ...all.slice(-lines)].join('\n') : text;
}

/** A short description of a run for assertion messages. */
export function describeRun(r: RunResult): string {
  const how = r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
  return `${commandLine(r.command)}\n  -> ${how}\n--- stderr ---\n${tail(r.stderr.toString('utf8'))}`;
}

/** The lines rewind itself prints on stderr start with "rewind: ". */
export function isRewindLine(line: string): boolean {
  return line.startsWith('rewind:');
}

/** Stderr without rewind's own lines: what the program wrote to fd 2. */
export function programStderr(r: RunResult): string {
  return r.stderr
    .toString('latin1')
    .split('\n')
    .filter((l) => !isRewindLine(l))
    .join('\n');
}

/** rewind's own stderr lines. */
export function rewindLines(r: RunResult): string[] {
  return r.stderr
    .toString('utf8')
    .split('\n')
    .filter((l) => isRewindLine(l));
}

/** Exit status as a shell reports it: 128+N when killed by signal N. */
export function shellStatus(r: RunResult): number | null {
  if (r.status !== null) return r.status;
  if (!r.signal) return null;
  const n: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };
  return n[r.signal] !== undefined ? 128 + n[r.signal] : null;
}

/** The trace path from the recorder's "rewind: trace saved to DIR" line, if any. */
export function savedTracePath(r: RunResult): string | undefined {
  // also matches "rewind: recording stopped ...; trace saved to DIR (replayable up to event N)"
  const m = /^rewind: (?:.*; )?trace saved to (.+?)(?: \(.*\))?$/m.exec(r.stderr.toString('utf8'));
  return m ? m[1].trim() : undefined;
}

/** FNV-1a 32-bit, as the C test programs compute it; lowercase 8-digit hex. */
export function fnv1a32(data: Buffer, seed = 0x811c9dc5): string {
  let h = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    h ^= data[i];
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Deterministic pseudo-random bytes (xorshift32), for fixture files. */
export function pseudoRandomBytes(length: number, seed = 12345): Buffer {
  const buf = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

/**
 * Writes a test's C `source` as `<name>.c` in a new temporary directory and compiles
 * it there (`cc -g -O0`, so gdb sees every line and local); returns the executable.
 */
export function compileC(name: string, source: string, prefix = 'rewind-c-'): string {
  const dir = tempDir(prefix);
  writeFileSync(path.join(dir, `${name}.c`), source);
  const exe = path.join(dir, name);
  const cc = runNative(['cc', '-g', '-O0', '-o', exe, `${name}.c`], { cwd: dir });
  expect(cc.status, describeRun(cc)).toBe(0);
  return exe;
}

/** `tool` is on PATH (looked up by the shell, as a test's command would be). */
export function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** A tool the test records, installed through apt when missing: the test fails loudly if it cannot be. */
export function requireTool(tool: string): void {
  if (onPath(tool)) return;
  const apt = spawnSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${tool}`], { encoding: 'utf8', timeout: 600_000 });
  if (!onPath(tool)) throw new Error(`${tool} is not on PATH and apt-get install ${tool} failed (exit ${apt.status}): ${(apt.stderr || apt.stdout || '').slice(-500)}`);
}

/** Whether process pid lives: gone, or a zombie (killed, reaped by its tracer, not yet by its parent), is dead. */
export function processAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}
