// Damaged traces and a recorder that dies: `replay --check` must neither crash
// nor hang, replay what it can, and fail with a "rewind: error:" line and a
// non-zero status that is not the program's own.

import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CLI,
  describeRun,
  programPath,
  rewind,
  rewindLines,
  tempDir,
  type RunResult,
} from '../helpers.js';

/** Replays of damaged traces get less time than the default: they must not hang. */
const DAMAGED_TIMEOUT_MS = 30_000;

/**
 * Output that reached the recorder's stdout at least this long before the
 * SIGKILL must be in the trace. The trace writer flushes buffered events
 * after at most 200 ms (FLUSH_DELAY_MS); 0 here would demand that every event
 * is on disk before the tracee's write() returns.
 */
const DURABILITY_MS = 500;

interface Recorded {
  traceDir: string;
  stdout: string;
  status: number;
}

let hello: Recorded;
let ticker: Recorded;

function record(cmd: string[]): Recorded {
  const root = tempDir('rewind-rec-');
  const traceDir = path.join(root, 'trace');
  const r = rewind(['record', '-o', traceDir, '--', ...cmd], { traceRoot: root });
  expect(r.signal, describeRun(r)).toBeNull();
  expect(r.status, describeRun(r)).not.toBeNull();
  expect(existsSync(path.join(traceDir, 'events.rwe')), `no events.rwe in ${traceDir}\n${describeRun(r)}`).toBe(true);
  expect(existsSync(path.join(traceDir, 'meta.json')), `no meta.json in ${traceDir}\n${describeRun(r)}`).toBe(true);
  return { traceDir, stdout: r.stdout.toString('latin1'), status: r.status! };
}

beforeAll(() => {
  // temp dirs made here live until the file is done
  hello = record([programPath('hello')]);
  expect(hello.status).toBe(3);
  // 60 lines over ~0.6 s: the writer's 200 ms flush timer cuts that into several chunks
  ticker = record([programPath('ticker'), '60', '10']);
  expect(ticker.status).toBe(0);
  expect(ticker.stdout.split('\n')).toHaveLength(62);
});

/** File offsets and total sizes of the chunks in events.rwe (16-byte file header; 40-byte chunk headers, payload length at +8). */
function chunksOf(events: Buffer): { offset: number; size: number }[] {
  const chunks: { offset: number; size: number }[] = [];
  for (let off = 16; off + 40 <= events.length; ) {
    expect(events.toString('latin1', off, off + 4), `no chunk magic at offset ${off}`).toBe('CHNK');
    const size = 40 + events.readUInt32LE(off + 8);
    chunks.push({ offset: off, size });
    off += size;
  }
  return chunks;
}

/** A private copy of a recorded trace, to damage. */
function copyTrace(src: Recorded): string {
  const dest = path.join(tempDir('rewind-damaged-'), 'trace');
  cpSync(src.traceDir, dest, { recursive: true });
  return dest;
}

function replayCheck(traceDir: string): RunResult {
  return rewind(['replay', '--check', traceDir], { timeoutMs: DAMAGED_TIMEOUT_MS });
}

/** Failed in an orderly way: an error line, an exit status that is neither 0 nor the program's, no crash. */
function expectCleanFailure(r: RunResult, programStatus: number | undefined, pattern: RegExp): void {
  const msg = describeRun(r);
  expect(r.signal, `replay died of a signal\n${msg}`).toBeNull();
  expect(r.status, msg).not.toBeNull();
  expect(r.status, msg).not.toBe(0);
  if (programStatus !== undefined) expect(r.status, `the status must not be the program's own\n${msg}`).not.toBe(programStatus);
  const stderr = r.stderr.toString('utf8');
  expect(stderr, `an uncaught exception's stack trace\n${msg}`).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  const lines = rewindLines(r);
  expect(lines.some((l) => pattern.test(l)), `expected a rewind line matching ${pattern}\n${msg}`).toBe(true);
}

function expectPrefixOf(replayed: Buffer, recorded: string, r: RunResult): void {
  const out = replayed.toString('latin1');
  expect(recorded.startsWith(out), `replayed output is not a prefix of the recorded one\n${describeRun(r)}\n--- stdout ---\n${out}`).toBe(true);
}

describe('damaged traces', () => {
  it('a trace cut in the middle of its last chunk replays what is complete and says it is incomplete', () => {
    const dir = copyTrace(ticker);
    const events = path.join(dir, 'events.rwe');
    const chunks = chunksOf(readFileSync(events));
    expect(chunks.length).toBeGreaterThan(0);
    const last = chunks[chunks.length - 1];
    truncateSync(events, last.offset + Math.floor(last.size / 2));
    const r = replayCheck(dir);
    expectCleanFailure(r, undefined, /incomplete|truncated/i);
    expectPrefixOf(r.stdout, ticker.stdout, r);
    // with two or more whole chunks left (over 200 ms of the run), some ticks were in them
    if (chunks.length >= 3) expect(r.stdout.toString('latin1'), describeRun(r)).toMatch(/^tick 1\n/);
  });

  it('a trace cut just after a chunk header replays what is complete and says it is incomplete', () => {
    const dir = copyTrace(ticker);
    const events = path.join(dir, 'events.rwe');
    const chunks = chunksOf(readFileSync(events));
    const last = chunks[chunks.length - 1];
    truncateSync(events, last.offset + 40);
    const r = replayCheck(dir);
    expectCleanFailure(r, undefined, /incomplete|truncated/i);
    expectPrefixOf(r.stdout, ticker.stdout, r);
  });

  it('a trace cut at 60% replays what is complete and says it is incomplete', () => {
    const dir = copyTrace(ticker);
    const events = path.join(dir, 'events.rwe');
    truncateSync(events, Math.floor(statSync(events).size * 0.6));
    const r = replayCheck(dir);
    expectCleanFailure(r, undefined, /incomplete|truncated/i);
    expectPrefixOf(r.stdout, ticker.stdout, r);
  });

  it('a flipped byte in the middle of events.rwe is reported as corrupt', () => {
    const dir = copyTrace(hello);
    const events = path.join(dir, 'events.rwe');
    const data = readFileSync(events);
    data[Math.floor(data.length / 2)] ^= 0xff;
    writeFileSync(events, data);
    const r = replayCheck(dir);
    expectCleanFailure(r, hello.status, /^rewind: error:.*corrupt/i);
  });

  it('a trace of another format version is refused with an error naming the version', () => {
    const dir = copyTrace(hello);
    const metaPath = path.join(dir, 'meta.json');
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Record<string, unknown>;
    expect(meta, 'meta.json has no "version" field').toHaveProperty('version');
    meta.version = 999;
    writeFileSync(metaPath, JSON.stringify(meta, null, 2));
    const r = replayCheck(dir);
    expectCleanFailure(r, hello.status, /^rewind: error:.*version/i);
    expect(r.stdout.toString('latin1')).toBe('');
  });

  it('a directory that is not a trace is refused', () => {
    const r = replayCheck(tempDir('rewind-not-a-trace-'));
    expectCleanFailure(r, undefined, /^rewind: error:/);
    const missing = replayCheck(path.join(tempDir('rewind-missing-'), 'nothing-here'));
    expectCleanFailure(missing, undefined, /^rewind: error:/);
  });
});

// ---------------------------------------------------------------------------
// a recorder that is killed

/** State letter from /proc/PID/stat, or undefined if there is no such process. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

/** Live processes whose executable is `exe`. */
function processesRunning(exe: string): number[] {
  const want = realpathSync(exe);
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      if (readlinkSync(`/proc/${pid}/exe`) === want && isRunning(pid)) found.push(pid);
    } catch {
      // gone, or not ours to look at
    }
  }
  return found;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('killed recorder', () => {
  it('SIGKILL of the recorder leaves no tracee running, and the trace replays up to the kill', async () => {
    const root = tempDir('rewind-kill-');
    const traceDir = path.join(root, 'trace');
    const pidFile = path.join(root, 'ticker.pid');
    const exe = programPath('ticker');
    // 60 lines, one per 50 ms: about 3 s; the recorder is killed after the third
    const args = [CLI, 'record', '-o', traceDir, '--', exe, '60', '50', pidFile];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REWIND_TRACE_DIR: root },
    });

    let stdout = '';
    let pending = '';
    let stderr = '';
    const lines: { text: string; at: number }[] = [];
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (d: string) => {
      stdout += d;
      pending += d;
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        lines.push({ text: pending.slice(0, i + 1), at: Date.now() });
        pending = pending.slice(i + 1);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );

    let tickerPid: number | undefined;
    try {
      // killed once it has printed a few ticks, however long a loaded machine takes to start it
      for (let waited = 0; waited < 60_000 && lines.length < 3 && child.exitCode === null; waited += 20) await sleep(20);
      await sleep(DURABILITY_MS);
      const killedAt = Date.now();
      const beforeKill = lines.length;
      child.kill('SIGKILL');
      const exit = await Promise.race([exited, sleep(60_000).then(() => undefined)]);
      expect(exit, 'the recorder did not exit within 10 s of SIGKILL').toBeDefined();
      expect(exit!.signal, `the recorder had already exited before the kill\n--- stderr ---\n${stderr}`).toBe('SIGKILL');
      expect(beforeKill, `the recorder printed only ${beforeKill} ticks before it was killed\n--- stderr ---\n${stderr}`).toBeGreaterThanOrEqual(3);

      // the traced program must go down with its recorder
      expect(existsSync(pidFile), 'the ticker never wrote its pid file').toBe(true);
      tickerPid = Number(readFileSync(pidFile, 'utf8').trim());
      for (let waited = 0; waited < 3000 && (isRunning(tickerPid) || processesRunning(exe).length > 0); waited += 50) {
        await sleep(50);
      }
      expect(isRunning(tickerPid), `ticker (pid ${tickerPid}) is still running after its recorder was killed (state ${procState(tickerPid)})`).toBe(false);
      expect(processesRunning(exe), 'processes of the ticker are still running').toEqual([]);

      // the trace replays at least what had been printed before the kill
      const replay = rewind(['replay', '--check', traceDir], { traceRoot: root, timeoutMs: DAMAGED_TIMEOUT_MS });
      const msg = describeRun(replay);
      expect(replay.signal, msg).toBeNull();
      expect(replay.status, msg).not.toBeNull();
      expect(replay.status, msg).not.toBe(0);
      expect(rewindLines(replay).some((l) => /incomplete|truncated/i.test(l)), `replay should say the trace is incomplete\n${msg}`).toBe(true);
      const out = replay.stdout.toString('latin1');
      expect(stdout.startsWith(out), `replayed output is not a prefix of the recorded one\n${msg}\n--- replayed ---\n${out}`).toBe(true);
      const durable = lines.filter((l) => l.at <= killedAt - DURABILITY_MS).map((l) => l.text).join('');
      expect(out.startsWith(durable), `replay lost output printed before the kill\n--- expected at least ---\n${durable}--- replayed ---\n${out}`).toBe(true);
    } finally {
      child.stdout.destroy();
      child.stderr.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      // do not leave a stray ticker behind even when the assertions failed
      if (tickerPid !== undefined && isRunning(tickerPid)) {
        try {
          process.kill(tickerPid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
});
