// Programs exec'd by a recorded process (docs/syscallbuf.md, "exec"): they get the
// syscall buffer as the first program does, so their calls are buffered when
// recorded and served in-process when replayed; they see the environment they were
// given (the preload library takes itself out of it again); and `replay --pid` of
// a child that exec'd gives gdb the program it exec'd, not its parent's, also when
// a thread other than its first made the exec.
import * as fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/history/events.js';
import { TraceReader } from '../../src/history/index.js';
import { Replayer } from '../../src/replay/replayer.js';
import { BUILD_DIR, describeRun, programPath, pseudoRandomBytes, recordAndReplay, rewind, runNative, tempDir } from '../helpers.js';
import { afterMark, debugReplay, GDB_TIMEOUT_MS } from './gdb-support.js';

const text = (b: Buffer) => b.toString('utf8');
const proc = (name: string) => path.join(BUILD_DIR, 'procs', name);
const NR_PRCTL = 157;
const BUFFER_REGISTRATION = 0x52574e44n;

describe('programs exec\'d by a recorded process', () => {
  it('are buffered when recorded and served in-process when replayed (a shell runs bufferedio)', async () => {
    const root = tempDir('rewind-exec-buffered-');
    const input = path.join(root, 'input.bin');
    fs.writeFileSync(input, pseudoRandomBytes(20_000));
    const cmd = ['/bin/sh', '-c', `${programPath('bufferedio')} ${input}; echo done`];
    const native = runNative(cmd);
    expect(native.status, describeRun(native)).toBe(0);
    const rr = recordAndReplay(cmd);
    expect(rr.record.status, describeRun(rr.record)).toBe(0);
    expect(text(rr.record.stdout)).toBe(text(native.stdout));
    expect(rr.replay.status, describeRun(rr.replay)).toBe(0);
    expect(text(rr.replay.stdout)).toBe(text(native.stdout));

    const reader = TraceReader.open(rr.traceDir);
    try {
      // The library registered in both programs: the shell, and bufferedio under the
      // filter the shell's library installed (the recorder's other answer).
      const answers: bigint[] = [];
      const tids = new Set<number>();
      let copyLoopCalls = 0;
      let bufferedioPid = 0;
      for (let i = 0; i < reader.eventCount; i++) {
        const e = decodeEvent(reader.record(i));
        if (e.kind === 'exec' && (e.snapshot.argv ?? [])[0] === programPath('bufferedio')) bufferedioPid = e.tid;
        if (e.kind === 'syscall' && e.nr === NR_PRCTL && e.args[0] === BUFFER_REGISTRATION) {
          answers.push(e.result);
          tids.add(e.tid);
        }
        if (e.kind === 'syscall' && e.tid === bufferedioPid && [0, 1, 8, 262].includes(e.nr)) copyLoopCalls++;
      }
      expect(bufferedioPid).toBeGreaterThan(0);
      expect(tids.size).toBe(2);
      expect(answers.map((a) => a.toString(16))).toEqual(['52574e4f4b', '52574e4f46']);
      expect(copyLoopCalls).toBeGreaterThan(1000);
      // Replay serves them from the feed: only calls at a fill's end stop.
      const replayer = await Replayer.start(reader);
      const outcome = await replayer.run();
      expect(outcome).toMatchObject({ kind: 'exited', code: 0 });
      expect(outcome.served).toBeGreaterThan(copyLoopCalls - 10);
    } finally {
      reader.close();
    }
  }, 120_000);

  it('see the environment they were given, without the preload library', () => {
    // env is exec'd by the shell, with the library put back into LD_PRELOAD: it takes itself out
    const cmd = ['/bin/sh', '-c', 'env | grep -v "^REWIND_" | sort'];
    const native = runNative(cmd);
    const rr = recordAndReplay(cmd);
    expect(rr.record.status, describeRun(rr.record)).toBe(0);
    expect(text(rr.record.stdout)).toBe(text(native.stdout));
    expect(text(rr.record.stdout)).not.toContain('librwpreload');
    expect(rr.replay.status, describeRun(rr.replay)).toBe(0);
    expect(text(rr.replay.stdout)).toBe(text(rr.record.stdout));
  });
});

/**
 * gdb on the replayed process `pid` of `trace` (the first if undefined), which exec'd exec_child: a breakpoint
 * in its main and in its function, bt, print, then reverse-continue, against gdb on exec_child natively.
 */
async function expectDebuggedAsNative(trace: string, pid: string | undefined): Promise<void> {
  const stops = (t: string) => t.split('\n').filter((l) => /^(Breakpoint \d+, |\$\d+ = |#\d+ )/.test(l)).join('\n');
  const commands = ['break exec_work', 'continue', 'bt', 'print i', 'continue', 'bt', 'print i'];
  // natively: exec_child run by itself, as the child ran it
  const nativeRun = runNative(['gdb', '-batch', '-nx', '-ex', 'break main', '-ex', 'run > /dev/null', ...commands.flatMap((c) => ['-ex', c]), proc('exec_child')], { timeoutMs: GDB_TIMEOUT_MS });
  const native = stops(text(nativeRun.stdout));
  expect(native).toMatch(/^Breakpoint 1, main \(\) at .*exec_child\.c:\d+\nBreakpoint 2, exec_work \(i=0\)/);
  const { gdb } = await debugReplay(trace, ['break main', 'continue', ...commands, 'reverse-continue', 'print i', 'bt'],
    { breakMain: false, extra: ['--once', ...(pid === undefined ? [] : ['--pid', pid])] });
  const replayed = stops(afterMark(gdb));
  // Forward: what gdb shows natively; reverse-continue goes back to the first call of exec_work.
  const firstCall = native.split('\n').slice(1, 5);
  const again = [firstCall[0], firstCall[3].replace('$1', '$3'), firstCall[1], firstCall[2]].join('\n');
  expect(replayed, afterMark(gdb)).toBe(`${native}\n${again}`);
}

describe('gdb on a child that exec\'d (replay --pid)', () => {
  it('is given the program it exec\'d: a breakpoint in its main and in its function, bt, reverse-continue', async () => {
    const root = tempDir('rewind-exec-debug-');
    const trace = path.join(root, 'trace');
    const r = rewind(['record', '-o', trace, '--', proc('exec_parent')], { traceRoot: root });
    expect(r.status, describeRun(r)).toBe(0);
    expect(text(r.stdout)).toBe("parent starts\nexec'd step 0: 0\nexec'd step 1: 7\nexec'd step 2: 21\nparent saw 28\n");
    const ps = rewind(['ps', trace]);
    const child = text(ps.stdout).trimEnd().split('\n')[2]?.split(/\s+/)[0];
    expect(child, text(ps.stdout)).toMatch(/^\d+$/);
    await expectDebuggedAsNative(trace, child!);
    // the command name works too
    const byName = await debugReplay(trace, ['break exec_work', 'continue', 'bt 1'], { breakMain: false, extra: ['--once', '--pid', 'exec_child'] });
    expect(afterMark(byName.gdb)).toMatch(/#0  exec_work \(i=0\) at .*exec_child\.c:\d+/);
  }, 180_000);

  it('is given the program a worker thread of it exec\'d, which ended its other threads (one busy in a loop)', async () => {
    const root = tempDir('rewind-thread-exec-debug-');
    const trace = path.join(root, 'trace');
    const cmd = ['/bin/sh', '-c', `${path.join(BUILD_DIR, 'threads', 'thread_exec')} join busy ${proc('exec_child')}; echo shell saw $?`];
    const r = rewind(['record', '-o', trace, '--', ...cmd], { traceRoot: root });
    expect(r.status, describeRun(r)).toBe(0);
    expect(text(r.stdout)).toBe("main starts a worker that execs, and a busy one\nexec'd step 0: 0\nexec'd step 1: 7\nexec'd step 2: 21\nshell saw 28\n");
    // the child (thread_exec, then exec_child at its pid) and its two threads
    const ps = text(rewind(['ps', trace]).stdout);
    const line = ps.split('\n').find((l) => /^\d+\s+\d+\s+.*\s\S*\/exec_child exec from a thread$/.test(l));
    expect(line, ps).toMatch(/^\d+\s+\d+\s+exit 28\s+3\s+/);
    await expectDebuggedAsNative(trace, line!.split(/\s+/)[0]);
  }, 180_000);

  it('the first process is debugged from the exec of a worker thread on, which ended its threads', async () => {
    const root = tempDir('rewind-thread-exec-root-');
    const trace = path.join(root, 'trace');
    const r = rewind(['record', '-o', trace, '--', path.join(BUILD_DIR, 'threads', 'thread_exec'), 'read', proc('exec_child')], { traceRoot: root });
    expect(r.status, describeRun(r)).toBe(28);
    expect(text(r.stdout)).toBe("main starts a worker that execs\nexec'd step 0: 0\nexec'd step 1: 7\nexec'd step 2: 21\n");
    // without --pid: the first process, which is the one that exec'd
    await expectDebuggedAsNative(trace, undefined);
    const byName = await debugReplay(trace, ['break exec_work', 'continue', 'bt 1'], { breakMain: false, extra: ['--once', '--pid', 'exec_child'] });
    expect(afterMark(byName.gdb)).toMatch(/#0  exec_work \(i=0\) at .*exec_child\.c:\d+/);
  }, 180_000);
});
