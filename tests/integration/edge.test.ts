// The edge corpus (tests/programs/edge, issue 14): small programs that each check
// one kernel or CPU behaviour and print what they saw. Each runs natively, then
// under `rewind record`, then `rewind replay --check`:
// - the native run must show the behaviour (it ends with "PASS" and prints no
//   "native behaviour missing" line): a behaviour the machine lacks is a failure,
//   not a pass;
// - the recording's output and status must equal the native run's;
// - the replay's output and status must equal the recording's.
// Programs that rewind refuses up front are checked for the refusal message and
// for a trace that replays up to it. Every run is in a session of its own, so a
// program that signals its process group reaches nothing else, and every run has
// a timeout that fails the test (nothing may hang).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILD_DIR, CLI, PROGRAMS_DIR } from '../helpers.js';

const EDGE_SOURCES = path.join(PROGRAMS_DIR, 'edge');
const RUN_TIMEOUT_MS = 60_000;
const POOL = 3;

interface Run {
  cmd: string[];
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const edge = (name: string): string => path.join(BUILD_DIR, 'edge', name);

// Runs outlive the test that started them (they run in a pool): their directories
// go when the file is done (REWIND_KEEP_TEMP=1 keeps them).
const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  if (!process.env.REWIND_KEEP_TEMP) for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const describeRun = (r: Run): string =>
  `${r.cmd.join(' ')}\n  -> ${r.signal ? `killed by ${r.signal}` : `status ${r.status}`}\n--- stdout ---\n${r.stdout}--- stderr ---\n${r.stderr}`;
/** Exit status as a shell shows it. */
const shellStatus = (r: Run): number | null => r.status ?? (r.signal ? 128 + (({ SIGTRAP: 5, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 }) as Record<string, number>)[r.signal] : null);
const rewindLines = (r: Run): string[] => r.stderr.split('\n').filter((l) => l.startsWith('rewind:'));

interface Started {
  pid: number;
  /** resolves when stdout contains the text */
  printed(text: string): Promise<void>;
  /** writes to its stdin (started with `input`) */
  type(text: string): void;
  exited: Promise<Run>;
}

/** Starts a command in a session of its own; a timeout kills its process group and fails. */
function start(cmd: string[], env: Record<string, string> = {}, input = false): Started {
  const child = spawn(cmd[0], cmd.slice(1), { detached: true, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  const waiting: { text: string; resolve: () => void }[] = [];
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString('latin1');
    for (const w of waiting.filter((x) => stdout.includes(x.text))) w.resolve();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
  const exited = new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      reject(new Error(`timed out after ${RUN_TIMEOUT_MS / 1000} s (killed): ${cmd.join(' ')}\n--- stdout ---\n${stdout}--- stderr ---\n${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ cmd, status, signal, stdout, stderr });
    });
  });
  exited.catch(() => undefined);
  const printed = (text: string) =>
    Promise.race([
      new Promise<void>((resolve) => (stdout.includes(text) ? resolve() : waiting.push({ text, resolve }))),
      exited.then((r) => {
        throw new Error(`ended before printing ${JSON.stringify(text)}\n${describeRun(r)}`);
      }),
    ]);
  return { pid: child.pid!, printed, type: (text) => child.stdin!.write(text), exited };
}

const run = (cmd: string[], env: Record<string, string> = {}): Promise<Run> => start(cmd, env).exited;

/** Waits for a process (not our child) to end. */
async function waitGone(pid: number): Promise<void> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not end`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]);
  } catch {
    return false;
  }
}

let slots = POOL;
const queue: (() => void)[] = [];
async function pooled<T>(fn: () => Promise<T>): Promise<T> {
  if (slots === 0) await new Promise<void>((r) => queue.push(r));
  else slots--;
  try {
    return await fn();
  } finally {
    const next = queue.shift();
    if (next) next();
    else slots++;
  }
}

interface Triple {
  native: Run;
  record: Run;
  replay: Run;
  traceDir: string;
}

/** Native run, recording, replay of one program (each with its own EDGE_DIR). */
async function recordAndReplay(name: string, opts: { syscallbuf?: boolean; wrap?: string[] } = {}): Promise<Triple> {
  return pooled(async () => {
    const native = await run([edge(name)], { EDGE_DIR: tempDir('rewind-edge-native-') });
    const root = tempDir('rewind-edge-');
    const traceDir = path.join(root, 'trace');
    const env = { EDGE_DIR: root, REWIND_TRACE_DIR: root, ...(opts.syscallbuf === false ? { REWIND_SYSCALLBUF: '0' } : {}) };
    const record = await run([...(opts.wrap ?? []), process.execPath, CLI, 'record', '-o', traceDir, '--', edge(name)], env);
    const replay = await run([process.execPath, CLI, 'replay', '--check', traceDir], { REWIND_TRACE_DIR: root });
    return { native, record, replay, traceDir };
  });
}

/** The native run shows the behaviour; the recording is the native run; the replay is the recording. */
function expectFaithful(t: Triple, status = 0): void {
  const { native, record, replay } = t;
  expect(native.stdout, `native run\n${describeRun(native)}`).not.toContain('native behaviour missing');
  expect(shellStatus(native), `native run\n${describeRun(native)}`).toBe(status);
  if (status === 0) expect(native.stdout, `native run\n${describeRun(native)}`).toMatch(/\nPASS\n$/);
  expect(record.stdout, `recording vs native\n${describeRun(record)}`).toBe(native.stdout);
  expect(shellStatus(record), `recording\n${describeRun(record)}`).toBe(status);
  expect(rewindLines(record), describeRun(record)).toContain(`rewind: trace saved to ${t.traceDir}`);
  expect(replay.stdout, `replay vs recording\n${describeRun(replay)}`).toBe(record.stdout);
  expect(shellStatus(replay), `replay\n${describeRun(replay)}`).toBe(status);
}

/** Programs with a test of their own below; every other one is checked by expectFaithful. */
const SPECIAL = ['sud_dispatch', 'daemon_child', 'wait_for_signal', 'ignores_sigint', 'dev_zero_read_map', 'huge_sparse_map', 'terminal_ctrl_c'];
/** Programs whose success is a death by a signal (shell status). */
const STATUS: Record<string, number> = { int3_fatal: 133, pgrp_kill_fatal: 143 };
/** Recorded a second time without the syscall buffer: every call through ptrace stops. */
const UNBUFFERED = ['own_int3', 'sigqueue_values', 'pwrite_map', 'write_map_growth', 'shared_file_two_maps', 'mremap_grow_file', 'clone_untraced', 'prctl_queries', 'shared_anon_fork'];

const programs = readdirSync(EDGE_SOURCES).filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)).sort();
const ordinary = programs.filter((p) => !SPECIAL.includes(p));
const results = new Map<string, Promise<Triple>>();

/** A run of the pool: all are started when the first is asked for, POOL at a time. */
function resultOf(key: string): Promise<Triple> {
  if (results.size === 0) {
    for (const p of ordinary) results.set(p, recordAndReplay(p));
    for (const p of UNBUFFERED) results.set(`${p} (no syscall buffer)`, recordAndReplay(p, { syscallbuf: false }));
    for (const r of results.values()) r.catch(() => undefined);  // reported by the test that awaits it
  }
  return results.get(key)!;
}

describe('edge corpus', () => {
  it('has at least 40 programs, all built', () => {
    expect(programs.length).toBeGreaterThanOrEqual(40);
    for (const p of programs) expect(existsSync(edge(p)), `${p} was not built`).toBe(true);
    for (const s of [...SPECIAL, ...UNBUFFERED]) expect(programs, `${s} is not a program`).toContain(s);
  });

  for (const p of ordinary) {
    it(`${p}: recorded as it runs natively, replayed as recorded`, { timeout: 300_000 }, async () => {
      expectFaithful(await resultOf(p), STATUS[p] ?? 0);
    });
  }
  for (const p of UNBUFFERED) {
    it(`${p}, without the syscall buffer: recorded as it runs natively, replayed as recorded`, { timeout: 300_000 }, async () => {
      expectFaithful(await resultOf(`${p} (no syscall buffer)`), STATUS[p] ?? 0);
    });
  }

  it('pgrp_kill: the program signals its process group, the recorder lives on', { timeout: 300_000 }, async () => {
    const t = await resultOf('pgrp_kill');
    expect(t.record.stdout, describeRun(t.record)).toContain('caught 6\nkillpg: caught 6\n');
    expect(t.record.signal, describeRun(t.record)).toBeNull();
  });

  it('dev_zero_read_map: 64 MiB of /dev/zero read and mapped, the recorder stays under 1 GiB', { timeout: 300_000 }, async () => {
    const t = await recordAndReplay('dev_zero_read_map', { wrap: [path.join(BUILD_DIR, 'tools', 'peak_rss')] });
    expectFaithful(t);
    const peak = Number(/peak-rss-kb (\d+)/.exec(t.record.stderr)?.[1]);
    expect(peak, describeRun(t.record)).toBeGreaterThan(0);
    // A correctness bound (it used to grow to 24 GB), not a speed one.
    expect(peak, `the recorder's peak resident set, KiB\n${describeRun(t.record)}`).toBeLessThan(1 << 20);
  });

  it('huge_sparse_map: a 5 GiB sparse file mapped; the trace holds its data, not its holes', { timeout: 300_000 }, async () => {
    const t = await recordAndReplay('huge_sparse_map');
    expectFaithful(t);
    let bytes = 0;
    for (const f of readdirSync(path.join(t.traceDir, 'files'))) bytes += statSync(path.join(t.traceDir, 'files', f)).size;
    expect(bytes, 'bytes stored in the trace').toBeLessThan(64 << 20);
  });

  it('sud_dispatch: syscall user dispatch is refused up front with its reason; the trace replays to there', { timeout: 300_000 }, async () => {
    const t = await recordAndReplay('sud_dispatch');
    expect(t.native.stdout, describeRun(t.native)).toMatch(/dispatched syscall \d+, emulated result 4242\nPASS\n$/);
    expect(t.record.status, describeRun(t.record)).toBe(125);
    expect(rewindLines(t.record).join('\n'), describeRun(t.record)).toMatch(/recording stopped at event \d+: syscall prctl \(157\): syscall user dispatch/);
    expect(t.replay.stdout, describeRun(t.replay)).toBe(t.record.stdout);
    expect(rewindLines(t.replay).join('\n'), describeRun(t.replay)).toMatch(/incomplete.*syscall user dispatch/);
  });

  it('daemon_child: the recorder ends when the program does; its daemon lives on', { timeout: 300_000 }, async () => {
    for (const mode of ['native', 'record'] as const) {
      const dir = tempDir('rewind-edge-daemon-');
      const traceDir = path.join(dir, 'trace');
      const cmd = mode === 'native' ? [edge('daemon_child')] : [process.execPath, CLI, 'record', '-o', traceDir, '--', edge('daemon_child')];
      const r = await run(cmd, { EDGE_DIR: dir, REWIND_TRACE_DIR: dir });
      expect(r.status, describeRun(r)).toBe(0);
      expect(r.stdout, describeRun(r)).toBe('going into the background\n');
      const pidFile = path.join(dir, 'daemon.pid');
      const deadline = Date.now() + RUN_TIMEOUT_MS;
      while (!existsSync(pidFile)) {
        if (Date.now() > deadline) throw new Error(`${mode}: the daemon never wrote ${pidFile}`);
        await new Promise((res) => setTimeout(res, 20));
      }
      const daemon = Number(readFileSync(pidFile, 'utf8'));
      expect(isAlive(daemon), `${mode}: the daemon ${daemon} is alive after its parent ended`).toBe(true);
      process.kill(daemon, 'SIGTERM');
      await waitGone(daemon);
      if (mode === 'record') {
        const replay = await run([process.execPath, CLI, 'replay', '--check', traceDir]);
        expect(replay.status, describeRun(replay)).toBe(0);
        expect(replay.stdout, describeRun(replay)).toBe(r.stdout);
      }
    }
  });

  it('terminal_ctrl_c: in a terminal, Ctrl-C reaches the program, not the recorder; recorded and replayed', { timeout: 300_000 }, async () => {
    // script(1) (util-linux) gives the command a terminal; typing ^C into it makes the
    // terminal send SIGINT to its foreground process group.
    const inTerminal = async (command: string): Promise<string> => {
      const dir = tempDir('rewind-edge-tty-');
      // `exec`: script(1) runs the command with $SHELL -c; dash (CI's /bin/sh) would wait
      // in the same process group, take the SIGINT itself and die of it (status 130).
      const child = start(['script', '-qefc', `exec ${command}`, '/dev/null'], { REWIND_TRACE_DIR: dir, EDGE_DIR: dir }, true);
      await child.printed('ready');
      child.type('\x03');
      const r = await child.exited;
      expect(r.status, describeRun(r)).toBe(0);
      return r.stdout.replace(/\r\n/g, '\n').replace('^C', '');
    };
    const traceDir = path.join(tempDir('rewind-edge-tty-trace-'), 'trace');
    const native = await inTerminal(edge('terminal_ctrl_c'));
    expect(native).toBe('ready\ncaught SIGINT 2; my group has the terminal: 1\nPASS\n');
    const recorded = await inTerminal(`${process.execPath} ${CLI} record -o ${traceDir} -- ${edge('terminal_ctrl_c')}`);
    expect(recorded).toBe(`${native}rewind: trace saved to ${traceDir}\n`);
    const replay = await run([process.execPath, CLI, 'replay', '--check', traceDir]);
    expect(replay.status, describeRun(replay)).toBe(0);
    expect(replay.stdout).toBe(native);
  });

  for (const [program, sig, code] of [['wait_for_signal', 'SIGTERM', 143], ['wait_for_signal', 'SIGINT', 130], ['ignores_sigint', 'SIGINT', 130], ['ignores_sigint', 'SIGTERM', 143]] as const) {
    it(`${program}: ${sig} to the recorder ends the recording at once, with a trace that replays to there`, { timeout: 300_000 }, async () => {
      const native = start([edge(program)]);
      await native.printed('ready\n');
      process.kill(-native.pid, 'SIGKILL');
      expect((await native.exited).stdout).toBe('ready\n');
      const dir = tempDir('rewind-edge-stop-');
      const traceDir = path.join(dir, 'trace');
      const recorder = start([process.execPath, CLI, 'record', '-o', traceDir, '--', edge(program)], { REWIND_TRACE_DIR: dir });
      await recorder.printed('ready\n');
      process.kill(recorder.pid, sig);
      const record = await recorder.exited;  // a recorder that does not end times out and fails here
      expect(record.status, describeRun(record)).toBe(code);
      expect(rewindLines(record), describeRun(record)).toContain(`rewind: recording stopped by ${sig}; trace saved to ${traceDir}`);
      const replay = await run([process.execPath, CLI, 'replay', '--check', traceDir]);
      expect(replay.stdout, describeRun(replay)).toBe('ready\n');
      expect(replay.status, describeRun(replay)).toBe(125);
      expect(rewindLines(replay).join('\n'), describeRun(replay)).toContain(`the recorder received ${sig}`);
    });
  }
});
