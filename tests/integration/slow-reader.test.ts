// A recorded program whose stdout is a pipe read slowly must see what it sees
// natively: a blocking stdout that it can fill and wait on, never EAGAIN.
//
// Node makes its own stdio pipes non-blocking, and the recorded program shares
// those open file descriptions; tar -cvf under `rewind record` used to fail with
// "stdout: write error" about half the time (src/cli/inherited-stdio.ts). The
// reader here pauses after each chunk, so a fast writer fills the pipe; the
// pauses only make the old failure likely, the checks do not depend on them:
// pipewrite also reports whether its fds are non-blocking, which differed from
// the native run every time.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, DEFAULT_TIMEOUT_MS, commandLine, describeRun, programPath, programStderr, rewind, runNative, tempDir, type RunResult } from '../helpers.js';

/** Runs cmd with its stdout read in chunks, pausing a few ms after each. */
function runWithSlowReader(cmd: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0], cmd.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'], env, timeout: DEFAULT_TIMEOUT_MS, killSignal: 'SIGKILL',
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 3);
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      if (signal === 'SIGKILL') reject(new Error(`killed after ${DEFAULT_TIMEOUT_MS / 1000} s: ${commandLine(cmd)}`));
      else resolve({ status, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err), command: cmd });
    });
  });
}

const program = programPath('pipewrite');

// Never skipped: a missing pipewrite fails these (record-replay.test.ts also checks it was built).
describe('a slow reader on the recorded program\'s stdout', () => {
  let native: RunResult | undefined;
  async function nativeRun(): Promise<RunResult> {
    native ??= await runWithSlowReader([program]);
    return native;
  }

  it('natively, pipewrite fills the pipe, blocks and succeeds (the harness is as intended)', async () => {
    const n = await nativeRun();
    expect(n.status, describeRun(n)).toBe(0);
    expect(n.stderr.toString()).toContain('pipewrite: fd 1 O_NONBLOCK: no\n');
    let lineBytes = 0;
    for (let i = 0; i < 5000; i++) lineBytes += `\nwrite line ${i}`.length;
    expect(n.stderr.toString()).toMatch(new RegExp(`^pipewrite: ${(8 << 20) + lineBytes} bytes through write\\(2\\) in \\d+ calls, 0 short$`, 'm'));
    const out = n.stdout.toString('latin1');
    expect(out).toContain('\nwrite line 4999\nstdio line 0\n');
    expect(out.endsWith('\nstdio line 4999\n')).toBe(true);
  });

  for (const buffered of [true, false]) {
    const mode = buffered ? 'with the syscall buffer' : 'with --no-syscallbuf';
    it(`recorded ${mode}: same output and status as natively; replay --check reproduces it`, async () => {
      const n = await nativeRun();
      const root = tempDir('rewind-slow-reader-');
      const trace = path.join(root, 'trace');
      const rec = await runWithSlowReader(
        [process.execPath, CLI, 'record', ...(buffered ? [] : ['--no-syscallbuf']), '-o', trace, '--', program],
        { ...process.env, REWIND_TRACE_DIR: root },
      );
      expect(rec.status, describeRun(rec)).toBe(0);
      expect(rec.stderr.toString()).toContain(`rewind: trace saved to ${trace}`);
      expect(JSON.parse(readFileSync(path.join(trace, 'meta.json'), 'utf8')).syscallbuf).toBe(buffered);
      expect(programStderr(rec)).toBe(n.stderr.toString('latin1'));
      expect(rec.stdout.equals(n.stdout), 'recorded stdout differs from the native run').toBe(true);

      const rep = rewind(['replay', '--check', trace], { traceRoot: root });
      expect(rep.status, describeRun(rep)).toBe(0);
      expect(programStderr(rep)).toBe(programStderr(rec));
      expect(rep.stdout.equals(rec.stdout), 'replayed stdout differs from the recording').toBe(true);
    });
  }

  it('a stdout that rewind is given non-blocking stays non-blocking, as natively', () => {
    // perl (perl-base, in every Debian) makes its stdout, a pipe, non-blocking and
    // execs the command; not Node, whose spawn makes a child's fds 0-2 blocking.
    // pipewrite writes almost nothing: no EAGAIN either way.
    const wrapper = (cmd: string[]): string[] => [
      'perl', '-MFcntl', '-e',
      'my $f = fcntl(STDOUT, F_GETFL, 0) or die "F_GETFL: $!"; fcntl(STDOUT, F_SETFL, $f | O_NONBLOCK) or die "F_SETFL: $!"; exec @ARGV or die "exec: $!"',
      ...cmd,
    ];
    const root = tempDir('rewind-nonblocking-');
    const trace = path.join(root, 'trace');
    const natRun = runNative(wrapper([program, '0', '0']));
    const recRun = runNative(wrapper([process.execPath, CLI, 'record', '-o', trace, '--', program, '0', '0']));
    expect(natRun.status, describeRun(natRun)).toBe(0);
    expect(natRun.stderr.toString()).toContain('pipewrite: fd 1 O_NONBLOCK: yes\n');
    expect(recRun.status, describeRun(recRun)).toBe(0);
    expect(programStderr(recRun)).toBe(natRun.stderr.toString('latin1'));
  });
});
