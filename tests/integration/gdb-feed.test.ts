// gdb over a trace whose program spends its time in buffered calls, which the
// debugger's runs take from the syscall buffer's feed in-process (docs/syscallbuf.md,
// "Under a debugger"): forward runs, reverse searches over long stretches of fed
// calls, a watchpoint on the memory a fed read writes, reverse steps over a buffered
// call, and ^C in the middle of a stretch. Each session is compared with the same
// session with every buffered call stopped (REWIND_DEBUG_FEED=0) and with the values
// the program prints itself.
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { programPath, rewind, runNative, tempDir } from '../helpers.js';
import { afterMark, debugReplay, startServer, type Server } from './gdb-support.js';
import { hexAddr, ripOf, RspClient } from './rsp-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recordBuffered(program: string, args: string[]): string {
  const root = tempDir('rewind-gdb-feed-');
  const trace = path.join(root, 'trace');
  const r = rewind(['record', '-o', trace, '--', program, ...args], { traceRoot: root });
  if (!/trace saved to/.test(r.stderr.toString())) throw new Error(`recording ${program} failed:\n${r.stderr}`);
  return trace;
}

/** Events the server's runs passed in-process (its REWIND_TRACE_RUNS lines). */
function servedInProcess(serverLog: string): number {
  return [...serverLog.matchAll(/, (\d+) served in-process,/g)].reduce((n, m) => n + Number(m[1]), 0);
}

/** bufloop's values: x_i, the i-th value phase 1 stores in `word` (as the program computes it). */
function bufloopValues(n: number): bigint[] {
  const mask = (1n << 64n) - 1n;
  const xs: bigint[] = [];
  let x = 12345n;
  for (let i = 0; i < n; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & mask;
    xs.push(x);
  }
  return xs;
}

describe('gdb with the feed: a loop of buffered calls', () => {
  const N = 240;
  let trace: string;
  let printed: { last: string; check: string };

  beforeAll(() => {
    const dir = tempDir('rewind-gdb-feed-data-');
    const native = runNative([programPath('bufloop'), String(N), path.join(dir, 'native.bin')]).stdout.toString();
    const m = /bufloop: (\d+) values, last ([0-9a-f]+), check ([0-9a-f]+)/.exec(native);
    if (!m) throw new Error(`bufloop printed: ${native}`);
    printed = { last: m[2], check: m[3] };
    trace = recordBuffered(programPath('bufloop'), [String(N), path.join(dir, 'recorded.bin')]);
  });

  it('reverse and forward over the stretches give the program\'s values, as with every call stopped', async () => {
    const commands = [
      'break done', 'continue', 'print/x check', 'print/x seen',
      // back over the whole read-back loop: every pread served in-process
      'break got', 'reverse-continue', 'print i', 'print/x v',
      'reverse-finish', 'reverse-next', 'reverse-next', 'print i',
      // a watchpoint on the word every pread writes: only the program's own stores
      // in the first loop trigger it (a call's write is not a store of the program)
      'delete', 'watch word', 'reverse-continue', 'print i', 'print/x x',
      'reverse-continue', 'print i', 'continue', 'print i',
      // forward from the first loop into the second one, over fed calls
      'delete', `break got if i == ${N / 2}`, 'continue', 'print i', 'print/x word',
      'reverse-stepi', 'reverse-next', 'print i', 'next', 'next', 'print/x word',
    ];
    // the guard against a hang only: the session without the feed (every call a stop)
    // took 90 s and more on a loaded CI machine
    const timeoutMs = 280_000;
    const fed = await debugReplay(trace, commands, { env: { REWIND_TRACE_RUNS: '1' }, timeoutMs });
    const stopped = await debugReplay(trace, commands, { env: { REWIND_TRACE_RUNS: '1', REWIND_DEBUG_FEED: '0' }, timeoutMs });
    const out = afterMark(fed.gdb);
    expect(out, `server stderr:\n${fed.server.slice(-4000)}`).not.toMatch(/Remote failure|Remote connection closed|internal error|diverged/i);
    expect(out).toBe(afterMark(stopped.gdb));
    // the feed was used, and not used when turned off
    expect(servedInProcess(fed.server)).toBeGreaterThan(N);
    expect(servedInProcess(stopped.server)).toBe(0);

    const xs = bufloopValues(N);
    expect(BigInt(`0x${printed.last}`)).toBe(xs[N - 1]);
    const values = [...out.matchAll(/^\$\d+ = (.*)$/gm)].map((m) => m[1]);
    expect(values.slice(0, 2)).toEqual([`0x${printed.check}`, `0x${printed.last}`]);
    expect(out).toMatch(new RegExp(`Breakpoint \\d+, got \\(i=${N - 1}, v=${xs[N - 1]}\\)`));
    expect(values.slice(2, 5)).toEqual([`${N - 1}`, `0x${xs[N - 1].toString(16)}`, `${N - 1}`]);
    // the last store of the first loop, seen backwards: from x_{N-1} back to x_{N-2}
    expect(out).toMatch(new RegExp(`Old value = ${xs[N - 1]}\\s+New value = ${xs[N - 2]}`));
    expect(values.slice(5, 9)).toEqual([`${N - 1}`, `0x${xs[N - 1].toString(16)}`, `${N - 2}`, `${N - 2}`]);
    expect(out).toMatch(new RegExp(`Old value = ${xs[N - 3]}\\s+New value = ${xs[N - 2]}`));
    expect(values.slice(9, 11)).toEqual([`${N / 2}`, `0x${xs[N / 2].toString(16)}`]);
    expect(values[12]).toBe(`0x${xs[N / 2].toString(16)}`);
  }, 600_000);
});

describe('gdb with the feed: ^C inside a stretch of buffered calls', () => {
  // bufloop with 300 000 values: 900 000 buffered calls, a loop of about half a second
  // under the debugger on an idle machine (longer under load), most of it in the
  // syscall buffer's library; the first interrupt comes 20 ms into it
  it('stops, goes one instruction back and forth, and replays on to the recorded end', async () => {
    const dir = tempDir('rewind-gdb-feed-data-');
    const native = runNative([programPath('bufloop'), '300000', path.join(dir, 'native.bin')]).stdout.toString().trim();
    expect(native).toMatch(/^bufloop: 300000 values/);
    const trace = recordBuffered(programPath('bufloop'), ['300000', path.join(dir, 'recorded.bin')]);
    const server: Server = await startServer(trace, ['--once'], { env: { REWIND_TRACE_RUNS: '1' }, lifetimeMs: 600_000 });
    let output = '';  // the program's output, which the server writes on its stdout
    server.child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const c = await RspClient.connect(server.port);
      await c.noAck();
      const sym = await c.symbols(programPath('bufloop'), ['main']);
      const log = () => `${c.console}\nserver stderr:\n${server.stderr().slice(-4000)}`;
      expect(await c.request(`Z0,${hexAddr(sym.main.addr)},1`)).toBe('OK');
      expect(await c.resume('vCont;c', 60_000), log()).toMatch(/^T05/);
      expect(await c.request(`z0,${hexAddr(sym.main.addr)},1`)).toBe('OK');
      // Up to three interrupts: a fed run spends much of its time in the library's
      // code, where an interrupt is put off until the program is out of it. When a
      // ^C lands is the user's timing, not the replay's: the loop replays for far
      // longer than the 20 ms before the ^C, but a loaded machine can hold the
      // test's own timer back longer still (once in 6 runs under a load of 7 to 16),
      // and the run then reaches the recorded end. The session then goes back to
      // main (a reverse-continue to a breakpoint there, which no timing changes)
      // and ^C is pressed again, as a user would, at most 5 times in all. What is
      // checked at each stop is the same wherever it landed.
      let interrupted = 0;
      let atEnd = false;
      for (let k = 0; k < 5 && interrupted < 3; k++) {
        if (atEnd) {
          if (interrupted > 0) break;
          expect(await c.request(`Z0,${hexAddr(sym.main.addr)},1`)).toBe('OK');
          // the ^C that came too late is kept for the next resume, as a SIGINT pending
          // in a native process is (src/debug/interrupts.ts): it stops at once
          let back = await c.resume('bc', 300_000);
          if (/^T02/.test(back)) back = await c.resume('bc', 300_000);
          expect(back, log()).toMatch(/^T05/);
          expect(ripOf(await c.registers())).toBe(sym.main.addr);
          expect(await c.request(`z0,${hexAddr(sym.main.addr)},1`)).toBe('OK');
          atEnd = false;
        }
        c.sendPacket('vCont;c');
        await sleep(20);
        c.interrupt();
        const stop = await c.stopReply(60_000);
        expect(stop, log()).toMatch(/^([TS]02|T05.*replaylog:end;)/);
        atEnd = /replaylog:end/.test(stop);
        if (atEnd) continue;
        interrupted++;
        const before = await c.registers();
        const back = await c.resume('bs', 60_000);
        expect(back, log()).toMatch(/^T05/);
        expect(back, log()).not.toContain('replaylog');
        expect(ripOf(await c.registers())).not.toBe(ripOf(before));
        expect(await c.resume('vCont;s', 60_000), log()).toMatch(/^T05/);
        expect(await c.registers()).toBe(before);
      }
      expect(interrupted, log()).toBeGreaterThan(0);
      if (!atEnd) {
        expect(await c.resume('vCont;c', 300_000), log()).toMatch(/^T05.*replaylog:end;/);
      }
      expect(await c.resume('vCont;c', 60_000), log()).toMatch(/^W00/);
      expect(output.trim()).toBe(native);
      expect(servedInProcess(server.stderr())).toBeGreaterThan(300_000);
      c.close();
    } finally {
      server.kill();
    }
  }, 600_000);
});
