// Record each test program (dynamic and static builds) and some stock Linux
// programs, then `replay --check` the trace: the replay must write exactly the
// recorded stdout and stderr and exit with the recorded status.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  PROGRAMS_DIR,
  ROOT,
  describeRun,
  fnv1a32,
  programBuilt,
  programPath,
  programStderr,
  pseudoRandomBytes,
  recordAndReplay,
  rewind,
  rewindLines,
  runNative,
  savedTracePath,
  shellStatus,
  staticBuildFailures,
  tempDir,
  type RecordAndReplayResult,
  type RunResult,
} from '../helpers.js';

// ---------------------------------------------------------------------------
// fixtures (small, deterministic, made once per file)

interface Fixtures {
  /** a few MB of pseudo-random bytes, for bigread */
  bigFile: string;
  bigData: Buffer;
  /** ~300 KB (not a whole number of pages), for mmapfile */
  mmapFile: string;
  mmapData: Buffer;
  /** a directory with files, a subdirectory and a symlink, for dirlist */
  listDir: string;
  /** text lines in no particular order, for cat/sort/sha256sum */
  textFile: string;
  textData: Buffer;
  /** an empty directory for files.c's temporary file */
  workDir: string;
  /** stdin for stdin.c */
  stdinData: Buffer;
}

let fx: Fixtures;

beforeAll(() => {
  const dir = tempDir('rewind-fixtures-');
  const bigData = pseudoRandomBytes(3 * 1024 * 1024 + 123, 1);
  const bigFile = path.join(dir, 'big.bin');
  writeFileSync(bigFile, bigData);

  const mmapData = pseudoRandomBytes(300_000, 2);
  const mmapFile = path.join(dir, 'mapped.bin');
  writeFileSync(mmapFile, mmapData);

  const listDir = path.join(dir, 'listing');
  mkdirSync(listDir);
  writeFileSync(path.join(listDir, 'zeta.txt'), 'last\n');
  writeFileSync(path.join(listDir, 'alpha.txt'), 'first file\n');
  writeFileSync(path.join(listDir, 'Middle.dat'), pseudoRandomBytes(1000, 3));
  writeFileSync(path.join(listDir, 'empty'), '');
  mkdirSync(path.join(listDir, 'subdir'));
  symlinkSync('alpha.txt', path.join(listDir, 'link-to-alpha'));

  const words = ['apple', 'kiwi', 'banana', 'cherry', 'date', 'fig', 'grape', 'lemon', 'mango', 'olive'];
  const rnd = pseudoRandomBytes(600, 4);
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) lines.push(`${words[rnd[2 * i] % words.length]} ${rnd[2 * i + 1]} line${i}`);
  const textData = Buffer.from(`${lines.join('\n')}\n`);
  const textFile = path.join(dir, 'words.txt');
  writeFileSync(textFile, textData);

  const workDir = path.join(dir, 'work');
  mkdirSync(workDir);

  const stdinData = Buffer.concat([
    Buffer.from('first line of the piped input\n'),
    pseudoRandomBytes(10_000, 5),
  ]);

  fx = { bigFile, bigData, mmapFile, mmapData, listDir, textFile, textData, workDir, stdinData };
});

// ---------------------------------------------------------------------------
// common assertions

function text(b: Buffer): string {
  return b.toString('latin1');
}

/** The recording finished normally: the trace path was printed and is the one asked for. */
function expectTraceSaved(rr: RecordAndReplayResult): void {
  const saved = savedTracePath(rr.record);
  expect(saved, `no "rewind: trace saved to DIR" line\n${describeRun(rr.record)}`).toBeDefined();
  expect(path.resolve(ROOT, saved!)).toBe(path.resolve(rr.traceDir));
}

/** Replay wrote what the recording wrote and exited the same way. */
function expectReplayMatches(rr: RecordAndReplayResult): void {
  const { record, replay } = rr;
  const msg = `replay differs from the recording\n[record] ${describeRun(record)}\n[replay] ${describeRun(replay)}`;
  expect(text(replay.stdout), msg).toBe(text(record.stdout));
  expect(programStderr(replay), msg).toBe(programStderr(record));
  expect(replay.signal, msg).toBeNull();
  expect(replay.status, msg).toBe(record.status);
}

// ---------------------------------------------------------------------------
// the test programs

interface ProgramCase {
  name: string;
  args?: () => string[];
  stdin?: () => Buffer;
  /** exit status of the program (and so of `record` and `replay`) */
  status: number;
  /** when set, a native run must print the same stdout (after this normalisation) */
  native?: (stdout: string) => string;
  /** checks on the recorded stdout / stderr */
  check?: (stdout: string, stderr: string) => void;
}

const same = (s: string): string => s;
const hideAddresses = (s: string): string => s.replace(/0x[0-9a-f]+/g, '0x…');

const programs: ProgramCase[] = [
  {
    name: 'hello',
    status: 3,
    native: same,
    check: (out, err) => {
      expect(out).toBe('hello, world\n');
      expect(err).toContain('hello on stderr\n');
    },
  },
  {
    name: 'files',
    args: () => [fx.workDir],
    status: 0,
    native: (s) => s.replace(/^tempfile: .*$/m, 'tempfile: …'),
    check: (out) => {
      expect(out).toMatch(/^tempfile: rewind-files-\w{6}$/m);
      expect(out).toContain('read: 15 bytes: "quick brown fox"');
      expect(out).toContain('fstat: size=45 regular=1 mode=600');
      expect(out).toContain('pread(9 @ 35): 9 bytes: "lazy dog."');
      expect(out).toContain('readv: 17 bytes: "alpha-b" + "eta-gamma\n"');
      expect(out).toContain('contents (62 bytes): The QUICK brown fox jumps over the lazy dog.\nalpha-beta-gamma\n');
      expect(out).toContain('after ftruncate: size=10');
      expect(out).toContain('unlink: ok');
      expect(out).toContain('open after unlink: -1 errno=2');
      expect(readdirSync(fx.workDir).filter((f) => f.startsWith('rewind-files-'))).toEqual([]);
    },
  },
  {
    name: 'bigread',
    args: () => [fx.bigFile],
    status: 0,
    native: same,
    check: (out) => {
      const sum = fnv1a32(fx.bigData);
      const n = fx.bigData.length;
      expect(out).toContain(`single read: ${n} bytes checksum ${sum}`);
      expect(out).toContain(`chunked read: ${n} bytes in ${Math.ceil(n / 65536) + 1} calls checksum ${sum}`);
      expect(out).toContain('match: yes');
    },
  },
  {
    // four buffered calls per 64 bytes of the file: replay serves them in-process
    name: 'bufferedio',
    args: () => [fx.mmapFile],
    status: 0,
    native: same,
    check: (out) => expect(out).toMatch(new RegExp(`^bufferedio: ${fx.mmapData.length} bytes, checksum [0-9a-f]+\n$`)),
  },
  {
    // loops of buffered pwrite, lseek and pread (gdb-feed.test.ts debugs it)
    name: 'bufloop',
    args: () => ['500', path.join(fx.workDir, 'bufloop.bin')],
    status: 0,
    native: same,
    check: (out) => expect(out).toMatch(/^bufloop: 500 values, last [0-9a-f]+, check [0-9a-f]+\n$/),
  },
  {
    name: 'dirlist',
    args: () => [fx.listDir],
    status: 0,
    native: same,
    check: (out) => {
      const names = out
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/).pop());
      expect(names).toEqual(['Middle.dat', 'alpha.txt', 'empty', 'link-to-alpha', 'subdir', 'zeta.txt']);
      expect(out).toMatch(/^-0[0-7]{3}\s+1000\s+1 Middle\.dat$/m);
      expect(out).toMatch(/^l0777\s+9\s+1 link-to-alpha$/m);
      expect(out).toMatch(/^d0755\s+\d+\s+2 subdir$/m);
    },
  },
  {
    name: 'timerand',
    status: 0,
    check: (out) => {
      expect(out).toMatch(/^getrandom: 16 bytes: [0-9a-f]{32}$/m);
      expect(out).toContain('clocks consistent: yes');
      expect(out).toContain('monotonic forward: yes');
    },
  },
  {
    name: 'rdtsc',
    status: 0,
    check: (out) => {
      expect(out.match(/^rdtsc \d+ rdtscp \d+ aux \d+$/gm)).toHaveLength(6);
      expect(out).toContain('increasing: yes');
    },
  },
  {
    name: 'mmapfile',
    args: () => [fx.mmapFile],
    status: 0,
    native: hideAddresses,
    check: (out) => {
      expect(out).toContain(`file: ${fx.mmapData.length} bytes, ${Math.ceil(fx.mmapData.length / 4096)} pages`);
      expect(out).toContain(`page 0 checksum ${fnv1a32(fx.mmapData.subarray(0, 4096))}`);
      expect(out).toContain(`file checksum ${fnv1a32(fx.mmapData)}`);
      expect(out).toContain('old contents kept: yes, new part zeroed: yes');
      expect(out).toContain('munmap: 0');
    },
  },
  {
    name: 'stdin',
    stdin: () => fx.stdinData,
    status: 0,
    native: same,
    check: (out) => {
      expect(out).toBe(
        `bytes: ${fx.stdinData.length}\nchecksum: ${fnv1a32(fx.stdinData)}\nfirst line: first line of the piped input\n`,
      );
    },
  },
  {
    name: 'signals',
    status: 0,
    native: same,
    check: (out) => {
      expect(out).toContain('SIGSEGV caught: si_addr=0x40 si_code=1');
      expect(out).toContain('in SIGUSR1 handler\nraise(SIGUSR1) = 0, handler ran 1 time(s)');
      expect(out).toMatch(/read from empty pipe = -1, errno=4 .*EINTR=yes, alarm handler ran 1 time/);
      expect(out).toContain('SIGUSR2 blocked: pending=1 handler ran 0 time(s)');
      expect(out).toContain('SIGUSR2 unblocked: pending=0 handler ran 1 time(s)');
    },
  },
  {
    name: 'gdbdemo',
    status: 3,
    native: same,
    check: (out) => expect(out).toBe('len=10 total=326 counter=5\nhello, gdb\n'),
  },
  {
    name: 'crash',
    status: 139,
    native: same,
    check: (out) => expect(out).toBe('about to crash\n'),
  },
  {
    name: 'selfkill',
    status: 137,
    native: same,
    check: (out) => expect(out).toBe('before the kill\n'),
  },
  {
    name: 'exitcodes',
    args: () => ['42'],
    status: 42,
    native: same,
    check: (out) => expect(out).toBe('exiting with 42\n'),
  },
  {
    name: 'procself',
    status: 0,
    check: (out) => {
      expect(out).toContain('pid matches: yes');
      const pid = /^getpid: (\d+)$/m.exec(out)?.[1];
      expect(out).toMatch(new RegExp(`^Pid:\\s+${pid}$`, 'm'));
      expect(out).toMatch(/^\/proc\/self\/maps: [1-9]\d* lines$/m);
    },
  },
  {
    name: 'cpuloop',
    args: () => ['2000000'],
    status: 0,
    native: same,
    check: (out) => expect(out).toMatch(/^cpuloop: 2000000 iterations, result [0-9a-f]{16}$/m),
  },
  {
    name: 'manysyscalls',
    args: () => ['500'],
    status: 0,
    native: same,
    check: (out) =>
      expect(out).toBe('manysyscalls: 500 iterations, 500 same ppid, 500 clock reads, 500 bytes written\n'),
  },
  {
    name: 'ticker',
    args: () => ['5', '20'],
    status: 0,
    native: same,
    check: (out) => expect(out).toBe('tick 1\ntick 2\ntick 3\ntick 4\ntick 5\nticker done\n'),
  },
];

/** Programs with tests of their own below (or in failures.test.ts, slow-reader.test.ts, or the gdb tests). */
// exercised by their own tests: revextra, revsignal, revloop (gdb-reverse*), junkargs (syscall-arity),
// cpuinfo and forkcpuid (cpuid, gdb-cpuid), pipewrite (slow-reader), threadcopy (thread-copy),
// hotwindow and bufhot (gdb-hot-windows), hot_maps (gdb-hot-maps)
const specialPrograms = ['unknown_syscall', 'revextra', 'revsignal', 'revloop', 'junkargs', 'cpuinfo', 'forkcpuid', 'pipewrite', 'threadcopy', 'hotwindow', 'bufhot', 'hot_maps'];

const variants = [
  { label: 'dynamic', static: false },
  { label: 'static', static: true },
] as const;

describe('test programs', () => {
  it('every tests/programs/*.c is exercised here', () => {
    const sources = readdirSync(PROGRAMS_DIR)
      .filter((f) => f.endsWith('.c'))
      .map((f) => f.slice(0, -2));
    const covered = new Set([...programs.map((p) => p.name), ...specialPrograms]);
    expect(sources.filter((s) => !covered.has(s))).toEqual([]);
  });

  it('every program was built, dynamically and (unless it cannot link) statically', () => {
    const staticFailures = staticBuildFailures();
    for (const p of [...programs.map((c) => c.name), ...specialPrograms]) {
      expect(programBuilt(p), `${p} was not built`).toBe(true);
      if (!(p in staticFailures)) expect(programBuilt(p, { static: true }), `${p}.static was not built`).toBe(true);
    }
  });

  for (const variant of variants) {
    describe(variant.label, () => {
      for (const c of programs) {
        const built = programBuilt(c.name, { static: variant.static });
        it.skipIf(!built)(`${c.name}: record, then replay --check reproduces it`, () => {
          const cmd = [programPath(c.name, { static: variant.static }), ...(c.args?.() ?? [])];
          const stdin = c.stdin?.();
          const rr = recordAndReplay(cmd, { stdin });

          expect(rr.record.signal, describeRun(rr.record)).toBeNull();
          expect(rr.record.status, describeRun(rr.record)).toBe(c.status);
          expectTraceSaved(rr);
          c.check?.(text(rr.record.stdout), programStderr(rr.record));
          if (c.native) {
            const native = runNative(cmd, { stdin });
            expect(shellStatus(native)).toBe(c.status);
            expect(c.native(text(rr.record.stdout)), 'recorded stdout differs from a native run').toBe(
              c.native(text(native.stdout)),
            );
          }

          expectReplayMatches(rr);
        });
      }

      it.skipIf(!programBuilt('timerand', { static: variant.static }))(
        'timerand: two recordings differ from each other, each replay equals its own recording',
        () => {
          const cmd = [programPath('timerand', { static: variant.static })];
          const first = recordAndReplay(cmd);
          const second = recordAndReplay(cmd);
          for (const rr of [first, second]) {
            expect(rr.record.status, describeRun(rr.record)).toBe(0);
            expectReplayMatches(rr);
          }
          const a = text(first.record.stdout);
          const b = text(second.record.stdout);
          const line = (s: string, key: string): string | undefined =>
            s.split('\n').find((l) => l.startsWith(key));
          expect(line(a, 'getrandom:')).toBeDefined();
          expect(line(a, 'getrandom:')).not.toBe(line(b, 'getrandom:'));
          expect(line(a, 'pid:')).not.toBe(line(b, 'pid:'));
          expect(line(a, 'monotonic:')).not.toBe(line(b, 'monotonic:'));
        },
      );

      it.skipIf(!programBuilt('unknown_syscall', { static: variant.static }))(
        'unknown_syscall: syscall 1000 fails with ENOSYS as natively, and replays so',
        () => {
          const cmd = [programPath('unknown_syscall', { static: variant.static })];
          const native = runNative(cmd);
          expect(text(native.stdout)).toBe('before unknown syscall\nsyscall(1000) = -1 errno=38 (Function not implemented)\n');
          const rr = recordAndReplay(cmd);
          expect(rr.record.status, describeRun(rr.record)).toBe(0);
          expect(text(rr.record.stdout)).toBe(text(native.stdout));
          expectReplayMatches(rr);
        },
      );
    });
  }

  it('exitcodes: statuses 0, 1 and 255 are recorded and replayed', () => {
    for (const code of [0, 1, 255]) {
      const rr = recordAndReplay([programPath('exitcodes'), String(code)]);
      expect(rr.record.status, describeRun(rr.record)).toBe(code);
      expect(text(rr.record.stdout)).toBe(`exiting with ${code}\n`);
      expectReplayMatches(rr);
    }
  });
});

// ---------------------------------------------------------------------------
// the CLI around record and replay

describe('cli', () => {
  it('without -o the trace goes under REWIND_TRACE_DIR and the saved line names it', () => {
    const root = tempDir('rewind-root-');
    const record = rewind(['record', '--', programPath('hello')], { traceRoot: root });
    expect(record.status, describeRun(record)).toBe(3);
    expect(text(record.stdout)).toBe('hello, world\n');
    const saved = savedTracePath(record);
    expect(saved, describeRun(record)).toBeDefined();
    const abs = path.resolve(ROOT, saved!);
    expect(abs.startsWith(`${realpathSync(root)}${path.sep}`) || abs.startsWith(`${root}${path.sep}`)).toBe(true);
    expect(existsSync(abs)).toBe(true);

    const replay = rewind(['replay', '--check', abs], { traceRoot: root });
    expect(replay.status, describeRun(replay)).toBe(3);
    expect(text(replay.stdout)).toBe('hello, world\n');
  });

  it('dump prints one numbered line per event', () => {
    const { record, traceDir } = recordAndReplay([programPath('hello')]);
    expect(record.status, describeRun(record)).toBe(3);
    const dump = rewind(['dump', traceDir]);
    expect(dump.status, describeRun(dump)).toBe(0);
    const lines = dump.stdout
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(0);
    let prev = -1;
    for (const l of lines) {
      const m = /^\s*#?(\d+)\b/.exec(l);
      expect(m, `dump line does not start with an event number: ${l}`).not.toBeNull();
      const n = Number(m![1]);
      expect(n, `event numbers must increase: ${l}`).toBeGreaterThan(prev);
      prev = n;
    }
    expect(lines.some((l) => /\bwrite\b/.test(l)), 'no write event in the dump').toBe(true);
    expect(lines.some((l) => /\bexit(_group)?\b/.test(l)), 'no exit event in the dump').toBe(true);
  });

  it('replay does not need the input files: cat of a file deleted after recording', () => {
    const dir = tempDir('rewind-gone-');
    const file = path.join(dir, 'soon-gone.txt');
    writeFileSync(file, 'this file is deleted before the replay\n');
    const root = tempDir('rewind-rr-');
    const traceDir = path.join(root, 'trace');
    const record = rewind(['record', '-o', traceDir, '--', '/bin/cat', file], { traceRoot: root });
    expect(record.status, describeRun(record)).toBe(0);
    expect(text(record.stdout)).toBe('this file is deleted before the replay\n');
    runNative(['rm', '-f', file]);
    const replay = rewind(['replay', '--check', traceDir], { traceRoot: root });
    expectReplayMatches({ record, replay, traceDir });
  });
});

// ---------------------------------------------------------------------------
// programs nobody here wrote

function realPython(): string | undefined {
  if (existsSync('/usr/bin/python3')) return realpathSync('/usr/bin/python3');
  try {
    const r = runNative(['python3', '-c', 'import sys; print(sys.executable)'], { timeoutMs: 20_000 });
    const exe = r.stdout.toString('utf8').trim();
    if (r.status === 0 && exe && existsSync(exe)) return realpathSync(exe);
  } catch {
    // no python3 at all
  }
  return undefined;
}

const python = realPython();
const hasLinuxHeaders = existsSync('/usr/include/linux');

interface StockCase {
  title: string;
  cmd: () => string[];
  skip?: boolean;
  /** compare the recorded stdout with a native run */
  native?: boolean;
  check?: (stdout: string, record: RunResult) => void;
}

const stock: StockCase[] = [
  {
    title: 'ls -la /usr/include/linux',
    cmd: () => ['/bin/ls', '-la', '/usr/include/linux'],
    skip: !hasLinuxHeaders,
    native: true,
    check: (out) => expect(out).toMatch(/ stddef\.h$/m),
  },
  {
    title: 'cat of a file',
    cmd: () => ['/bin/cat', fx.textFile],
    check: (out) => expect(out).toBe(fx.textData.toString('latin1')),
  },
  {
    title: 'sort of a file',
    cmd: () => ['/usr/bin/sort', fx.textFile],
    native: true,
    check: (out) => expect(out.split('\n').length).toBe(301),
  },
  {
    title: 'sha256sum of a file',
    cmd: () => ['/usr/bin/sha256sum', fx.bigFile],
    check: (out) => expect(out).toBe(`${createHash('sha256').update(fx.bigData).digest('hex')}  ${fx.bigFile}\n`),
  },
  {
    title: 'date',
    cmd: () => ['/bin/date'],
    check: (out) => expect(out).toMatch(/\d\d:\d\d:\d\d/),
  },
  {
    title: 'tar -cvf /dev/null -C /usr/include linux',
    cmd: () => ['tar', '-cvf', '/dev/null', '-C', '/usr/include', 'linux'],
    skip: !hasLinuxHeaders,
    native: true,
    check: (out) => expect(out).toMatch(/^linux\/stddef\.h$/m),
  },
  {
    title: `python3 (${python ?? 'not found'}) random, time, pid`,
    cmd: () => [python!, '-c', 'import random,time,os; print(random.random(), time.time(), os.getpid())'],
    skip: !python,
    check: (out) => expect(out).toMatch(/^0\.\d+ \d+\.\d+ \d+\n$/),
  },
];

describe('stock programs', () => {
  for (const c of stock) {
    it.skipIf(!!c.skip)(`${c.title}: record, then replay --check reproduces it`, () => {
      const cmd = c.cmd();
      const rr = recordAndReplay(cmd);
      expect(rr.record.signal, describeRun(rr.record)).toBeNull();
      expect(rr.record.status, describeRun(rr.record)).toBe(0);
      expectTraceSaved(rr);
      c.check?.(text(rr.record.stdout), rr.record);
      if (c.native) {
        const native = runNative(cmd);
        expect(text(rr.record.stdout), 'recorded stdout differs from a native run').toBe(text(native.stdout));
      }
      expectReplayMatches(rr);
    });
  }

  it('syscall buffer: a shell pipeline with forked children records with the buffer on and replays', () => {
    const rr = recordAndReplay(['/bin/sh', '-c', 'ls /usr/include/linux | wc -l; cat /etc/hostname']);
    expect(rr.record.status, describeRun(rr.record)).toBe(0);
    expectTraceSaved(rr);
    // The children inherit the seccomp filter and are recorded with it.
    expect(text(rr.record.stdout)).toBe(text(runNative(['/bin/sh', '-c', 'ls /usr/include/linux | wc -l; cat /etc/hostname']).stdout));
    // The children are recorded and replayed too: their output comes back in order.
    expect(rr.replay.status, describeRun(rr.replay)).toBe(0);
    expect(text(rr.replay.stdout)).toBe(text(rr.record.stdout));
  });

  it('syscall buffer: the program does not see LD_PRELOAD', () => {
    const rr = recordAndReplay(['/usr/bin/env']);
    expect(rr.record.status, describeRun(rr.record)).toBe(0);
    expect(text(rr.record.stdout)).not.toContain('librwpreload');
    expectReplayMatches(rr);
  });

  it('env: the replay shows the recorded environment, not its own', () => {
    const marker = `marker-${process.pid}-${Date.now()}`;
    const rr = recordAndReplay(['/usr/bin/env'], {
      env: { REWIND_TEST_MARKER: marker },
      replayEnv: { REWIND_TEST_MARKER: undefined, REWIND_TEST_REPLAY_ONLY: 'yes' },
    });
    expect(rr.record.status, describeRun(rr.record)).toBe(0);
    const out = text(rr.record.stdout);
    expect(out).toContain(`REWIND_TEST_MARKER=${marker}\n`);
    expect(out).not.toContain('REWIND_TEST_REPLAY_ONLY');
    expectReplayMatches(rr);
  });
});
