// Every process of a program is recorded and replayed (docs/timeline.md,
// "Processes"): programs that fork, vfork+exec and posix_spawn, a shell pipeline,
// make building a two-file C program and git, each compared with its native run;
// `rewind ps`; a divergence in a child names the process; gdb on a child (--pid).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_DIR, describeRun, recordAndReplay, requireTool, rewind, runNative, tempDir } from '../helpers.js';
import { rewriteTrace } from '../trace-edit.js';
import { afterMark, debugReplay, GDB_TIMEOUT_MS, record } from './gdb-support.js';
import { TraceReader } from '../../src/history/index.js';
import { decodeEvent } from '../../src/history/events.js';

const text = (b: Buffer) => b.toString('utf8');
const proc = (name: string) => path.join(BUILD_DIR, 'procs', name);

/** Records CMD and replays it: the recording prints what the native run does, the replay what the recording did. */
function expectRecordedAndReplayed(cmd: string[], opts: { cwd?: string; nativeCwd?: string; linesInAnyOrder?: boolean; env?: Record<string, string> } = {}) {
  const native = runNative(cmd, { cwd: opts.nativeCwd ?? opts.cwd });
  expect(native.status, describeRun(native)).toBe(0);
  const rr = recordAndReplay(cmd, { cwd: opts.cwd, env: opts.env });
  expect(rr.record.status, describeRun(rr.record)).toBe(0);
  // Processes that run in parallel may print in another order in each run.
  const lines = (b: Buffer) => (opts.linesInAnyOrder ? text(b).split('\n').sort().join('\n') : text(b));
  expect(lines(rr.record.stdout)).toBe(lines(native.stdout));
  expect(rr.replay.status, describeRun(rr.replay)).toBe(0);
  expect(text(rr.replay.stdout)).toBe(text(rr.record.stdout));
  return rr;
}

describe('every process of a program', () => {
  it('three forked children write to pipes the parent polls: all of them replay, output in recorded order', () => {
    const rr = expectRecordedAndReplayed([proc('fork_pipes')], { linesInAnyOrder: true });
    expect(text(rr.replay.stdout)).toContain('child 2 exited 12\n');
    // Each child's own "done" line comes from the child's replay, not from the parent.
    for (const i of [0, 1, 2]) expect(text(rr.replay.stdout)).toContain(`child ${i} done\n`);
  });

  it('vfork then exec, of another program and of itself', () => {
    const rr = expectRecordedAndReplayed([proc('vfork_exec')]);
    expect(text(rr.replay.stdout)).toBe('parent before vfork\necho from the vfork child\necho exited 0\nre-executed with again\nself exited 3\n');
  });

  it('posix_spawn (clone with CLONE_VM|CLONE_VFORK on its own stack) of a shell', () => {
    const rr = expectRecordedAndReplayed([proc('spawn')]);
    expect(text(rr.replay.stdout)).toBe('spawned shell\nspawned shell exited 4\n');
  });

  for (const [how, env] of [['with', {}], ['without', { REWIND_SYSCALLBUF: '0' }]] as const) {
    it(`socketpair, kill of a child in sigsuspend, waitid, setsid, kill of a process group (${how} the syscall buffer)`, () => {
      const rr = expectRecordedAndReplayed([proc('signals_groups')], { env });
      expect(text(rr.replay.stdout)).toBe([
        'child a got pong', 'parent got ping', 'child b leads its session: 1', 'child b got signal 10',
        'waitid: child b exited 5', "child c is its group's leader: 1", 'child c killed by signal 15', '',
      ].join('\n'));
    });
  }

  it('a child that makes a thread: its thread is recorded and replayed too', () => {
    const rr = expectRecordedAndReplayed([proc('child_thread')]);
    expect(text(rr.replay.stdout)).toBe('parent starts\nthread in the child\nchild exited 3\n');
    const ps = rewind(['ps', rr.traceDir]);
    // The child made one thread: two in all.
    expect(text(ps.stdout)).toMatch(/\n\d+\s+\d+\s+exit 3\s+2\s+\S*child_thread\n$/);
  });

  it('a shell pipeline: sh -c "seq 1 30000 | sort -rn | head -3"', () => {
    const rr = expectRecordedAndReplayed(['/bin/sh', '-c', 'seq 1 30000 | sort -rn | head -3']);
    expect(text(rr.replay.stdout)).toBe('30000\n29999\n29998\n');
    // What seq wrote into the pipe is not echoed: only what reached the recording's stdout.
    const ps = rewind(['ps', rr.traceDir]);
    expect(ps.status, describeRun(ps)).toBe(0);
    const lines = text(ps.stdout).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PID\s+PARENT\s+END\s+THREADS\s+COMMAND$/);
    const rows = lines.slice(1).map((l) => l.split(/\s{2,}/));
    expect(rows.length, text(ps.stdout)).toBe(4);
    expect(rows.map((r) => r[4])).toEqual(['/bin/sh -c seq 1 30000 | sort -rn | head -3', 'seq 1 30000', 'sort -rn', 'head -3']);
    expect(rows.map((r) => r[3])).toEqual(['1', '1', '1', '1']);
    const [sh, ...children] = rows;
    expect(sh[1]).toBe('-');
    expect(sh[2]).toBe('exit 0');
    for (const c of children) expect(c[1]).toBe(sh[0]);
    expect(children.find((c) => c[4] === 'head -3')![2]).toBe('exit 0');
  });

  it('make builds a two-file C program (make, cc, cc1, as, ld)', () => {
    requireTool('make');
    const sources: Record<string, string> = {
      'main.c': '#include <stdio.h>\nint helper(int x);\nint main(void) { printf("helper says %d\\n", helper(20)); return 0; }\n',
      'helper.c': 'int helper(int x) { return x + 22; }\n',
      Makefile: 'prog: main.o helper.o\n\tcc -o prog main.o helper.o\n%.o: %.c\n\tcc -c -o $@ $<\n',
    };
    const nativeDir = tempDir('rewind-make-native-');
    const recordDir = tempDir('rewind-make-record-');
    for (const dir of [nativeDir, recordDir]) for (const [f, s] of Object.entries(sources)) fs.writeFileSync(path.join(dir, f), s);
    const rr = expectRecordedAndReplayed(['make'], { cwd: recordDir, nativeCwd: nativeDir });
    expect(text(rr.replay.stdout)).toBe('cc -c -o main.o main.c\ncc -c -o helper.o helper.c\ncc -o prog main.o helper.o\n');
    // The recording really built it.
    const built = runNative([path.join(recordDir, 'prog')]);
    expect(text(built.stdout)).toBe('helper says 42\n');
  }, 240_000);

  it('git status in a repository', () => {
    requireTool('git');
    const repo = tempDir('rewind-git-');
    const git = (...args: string[]) => {
      const r = runNative(['git', '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo });
      expect(r.status, describeRun(r)).toBe(0);
    };
    git('init', '-q');
    git('commit', '-q', '--allow-empty', '-m', 'start');
    fs.writeFileSync(path.join(repo, 'staged.txt'), 'a\n');
    fs.writeFileSync(path.join(repo, 'untracked.txt'), 'b\n');
    git('add', 'staged.txt');
    const rr = expectRecordedAndReplayed(['git', 'status'], { cwd: repo });
    expect(text(rr.replay.stdout)).toContain('new file:   staged.txt');
    expect(text(rr.replay.stdout)).toContain('untracked.txt');
  }, 120_000);

  it('REWIND_CHILDREN=live: only the first process is recorded, its children run live as before', () => {
    const cmd = ['/bin/sh', '-c', 'seq 1 3000 | sort -rn | head -3'];
    const rr = recordAndReplay(cmd, { env: { REWIND_CHILDREN: 'live' } });
    expect(rr.record.status, describeRun(rr.record)).toBe(0);
    expect(text(rr.record.stdout)).toBe('3000\n2999\n2998\n');
    // sh itself writes nothing: the children's output is not in the trace.
    expect(rr.replay.status, describeRun(rr.replay)).toBe(0);
    expect(text(rr.replay.stdout)).toBe('');
    const ps = rewind(['ps', rr.traceDir]);
    expect(text(ps.stdout).trimEnd().split('\n').length, text(ps.stdout)).toBe(2);
  });

  it('a divergence in a child names the process and the event', () => {
    const rr = recordAndReplay([proc('fork_pipes')]);
    expect(rr.record.status, describeRun(rr.record)).toBe(0);
    // Change the bytes a child wrote into its pipe, as recorded: the replayed child writes others.
    const trace = TraceReader.open(rr.traceDir);
    const first = decodeEvent(trace.record(0)).tid;
    let target = -1;
    let child = 0;
    for (const { index, record } of trace.records(0)) {
      const e = decodeEvent(record);
      if (e.kind === 'syscall' && e.nr === 1 && e.tid !== first && e.checkLen === 15) {
        target = index;
        child = e.tid;
        break;
      }
    }
    trace.close();
    expect(target).toBeGreaterThan(0);
    const edited = path.join(tempDir('rewind-procs-edit-'), 'edited');
    rewriteTrace(rr.traceDir, edited, {
      record(i, rec) {
        if (i === target) rec.writeUInt32LE((rec.readUInt32LE(80) ^ 1) >>> 0, 80); // the recorded crc
        return rec;
      },
    });
    const again = rewind(['replay', '--check', edited]);
    expect(again.status, describeRun(again)).toBe(125);
    expect(text(again.stderr)).toContain(`replay diverged from the recording at event ${target}: the recording has write(`);
    expect(text(again.stderr)).toContain(`(process ${child})`);
  });
});

describe('gdb on one process of the recording (replay --pid)', () => {
  it('a forked child: a breakpoint, bt and reverse-continue, as gdb on the native child shows them', async () => {
    const program = proc('fork_debug');
    const trace = record(program);
    const ps = rewind(['ps', trace]);
    const child = text(ps.stdout).trimEnd().split('\n')[2]?.split(/\s+/)[0];
    expect(child, text(ps.stdout)).toMatch(/^\d+$/);
    const forward = ['break child_work', 'continue', 'print i', 'bt', 'continue', 'print i', 'bt'];
    // What gdb shows of the stops, frames and values (not the start, which differs: a
    // replay starts in the child at its fork's return, gdb natively at the program's start).
    // (gdb natively names the forked inferior's thread: "Thread 2.1 "fork_debug" hit Breakpoint 1, ...")
    const stops = (t: string) => t.split('\n')
      .map((l) => l.replace(/^Thread \S+ "[^"]*" hit Breakpoint/, 'Breakpoint'))
      .filter((l) => /^(Breakpoint 1, |\$\d+ = |#\d+ )/.test(l)).join('\n');
    const nativeRun = runNative(['gdb', '-batch', '-nx', '-ex', 'set follow-fork-mode child', '-ex', 'break child_work', '-ex', 'run > /dev/null',
      ...['print i', 'bt', 'continue', 'print i', 'bt'].flatMap((c) => ['-ex', c]), program], { timeoutMs: GDB_TIMEOUT_MS });
    const native = stops(text(nativeRun.stdout));
    expect(native).toContain('Breakpoint 1, child_work (i=1)');
    const { gdb } = await debugReplay(trace, [...forward, 'reverse-continue', 'print i', 'bt'], { breakMain: false, extra: ['--once', '--pid', child!] });
    const replayed = stops(afterMark(gdb));
    // Forward: exactly what the native child shows; then reverse-continue lands on the first hit again.
    const firstHit = native.split('\n').slice(0, 4).join('\n');
    expect(replayed, afterMark(gdb)).toBe(`${native}\n${firstHit.replace('$1 = 0', '$3 = 0')}`);
  }, 180_000);

  it('a process named by its command, and a name the trace does not have', () => {
    const rr = recordAndReplay(['/bin/sh', '-c', 'seq 1 3 | sort -rn']);
    expect(rr.record.status, describeRun(rr.record)).toBe(0);
    const bad = rewind(['replay', rr.traceDir, '--pid', 'nosuchcommand', '--once', '--port', '0']);
    expect(bad.status, describeRun(bad)).toBe(125);
    expect(text(bad.stderr)).toMatch(/rewind: error: the trace has no process named nosuchcommand \(it has: \d+ sh, \d+ seq, \d+ sort\)/);
  });
});
