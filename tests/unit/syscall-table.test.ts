import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { ARG_BITS_SHIFT, Action, ArgBits, Check, MAX_OUTS, ROW_INTS, RowFlag, Size, TABLE_ROWS } from '../../src/syscalls/abi.js';
import { SYSCALL_ARG_BITS, SYSCALLS_WITHOUT_ARITY } from '../../src/syscalls/arity.js';
import { SYSCALL_NAMES, SYSCALL_NUMBERS, syscallName } from '../../src/syscalls/names.js';
import { encodeSyscallTable, specFor, validateSyscallSpecs } from '../../src/syscalls/table.js';
import { STRUCT_SIZES, SYSCALL_SPECS } from '../../src/syscalls/specs.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const UNISTD = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
const HAVE_UNISTD = existsSync(UNISTD);

const table = encodeSyscallTable();
const row = (name: string): number[] => {
  const nr = SYSCALL_NUMBERS[name];
  expect(nr, name).toBeTypeOf('number');
  return Array.from(table.subarray(nr * ROW_INTS, (nr + 1) * ROW_INTS));
};
/** A row as [action, check, flags, nOuts, ...outs] padded with zeros to ROW_INTS. */
const padded = (...ints: number[]): number[] => [...ints, ...new Array<number>(ROW_INTS - ints.length).fill(0)];

/** The argument-bits field of a row's flags for these argument widths. */
const argBits = (...widths: number[]): number =>
  widths.reduce((f, w, i) => f | ({ 16: 1, 32: 2, 64: 3 }[w]! << (ARG_BITS_SHIFT + 2 * i)), 0);

function parseUnistd(): Map<number, string> {
  const byNumber = new Map<number, string>();
  const re = /^#define\s+__NR_([A-Za-z0-9_]+)\s+(\d+)\s*$/gm;
  const text = readFileSync(UNISTD, 'utf8');
  for (let m = re.exec(text); m; m = re.exec(text)) byNumber.set(Number(m[2]), m[1]);
  return byNumber;
}

describe('syscall table encoding', () => {
  it('has TABLE_ROWS rows of ROW_INTS ints', () => {
    expect(table).toBeInstanceOf(Int32Array);
    expect(table.length).toBe(TABLE_ROWS * ROW_INTS);
    expect(ROW_INTS).toBeGreaterThanOrEqual(4 + 3 * MAX_OUTS);
  });

  it('encodes read byte for byte', () => {
    expect(SYSCALL_NUMBERS.read).toBe(0);
    // flags: read(unsigned int fd, char *buf, size_t count) reads 32, 64 and 64 bits
    expect(row('read')).toEqual(padded(1, 0, 0b111110 << 8, 1, 1, 3, 0));
    // little-endian int32s as the native side sees them
    const bytes = Buffer.from(table.buffer, table.byteOffset, ROW_INTS * 4);
    const expected = Buffer.alloc(ROW_INTS * 4);
    [1, 0, 0b111110 << 8, 1, 1, 3, 0].forEach((v, i) => expected.writeInt32LE(v, i * 4));
    expect(bytes.equals(expected)).toBe(true);
  });

  it('encodes recvfrom', () => {
    expect(SYSCALL_NUMBERS.recvfrom).toBe(45);
    // Emulate; buf (arg1) Ret; src_addr (arg4) DerefU32 of arg5; addrlen (arg5) Fixed 4
    expect(row('recvfrom')).toEqual(padded(1, 0, argBits(32, 64, 64, 32, 64, 64), 3, 1, 3, 0, 4, 5, 5, 5, 1, 4));
  });

  it('encodes select with four outputs', () => {
    expect(SYSCALL_NUMBERS.select).toBe(23);
    // three fd_sets sized by nfds (arg0), then the timeval (arg4) Fixed 16
    expect(row('select')).toEqual(padded(1, 0, argBits(32, 64, 64, 64, 64), 4, 1, 8, 0, 2, 8, 0, 3, 8, 0, 4, 1, 16));
  });

  it('encodes mmap', () => {
    expect(SYSCALL_NUMBERS.mmap).toBe(9);
    expect(row('mmap')).toEqual(padded(3, 0, argBits(64, 64, 64, 64, 64, 64)));
  });

  it('encodes write with its check and echo flag', () => {
    expect(row('write')).toEqual(padded(1, 1, 1 | argBits(32, 64, 64), 0));
  });

  it('leaves numbers without a syscall at Action.Unknown', () => {
    for (let nr = 0; nr < TABLE_ROWS; nr++) {
      if (Object.prototype.hasOwnProperty.call(SYSCALL_NAMES, nr)) continue;
      const r = Array.from(table.subarray(nr * ROW_INTS, (nr + 1) * ROW_INTS));
      expect(r, `row ${nr}`).toEqual(padded());
    }
  });

  it('says which argument registers each call reads, and how many bits of each', () => {
    const field = (name: string) => row(name)[2] >> ARG_BITS_SHIFT;
    // lseek(unsigned int fd, off_t offset, unsigned int whence): r10, r8, r9 unread
    expect(field('lseek')).toBe(ArgBits.Low32 | (ArgBits.All << 2) | (ArgBits.Low32 << 4));
    // openat's mode is a umode_t: 16 bits
    expect(field('openat') >> 6).toBe(ArgBits.Low16);
    expect(field('getpid')).toBe(0);
    expect(field('exit_group')).toBe(ArgBits.Low32);
    // no kernel metadata: all six compared
    expect(SYSCALLS_WITHOUT_ARITY).toContain('set_thread_area');
    expect(field('set_thread_area')).toBe(0xfff);
    for (const [name, widths] of Object.entries(SYSCALL_ARG_BITS)) {
      expect(SYSCALL_NUMBERS[name], name).toBeTypeOf('number');
      expect(widths.length, name).toBeLessThanOrEqual(6);
      for (const w of widths) expect([16, 32, 64], name).toContain(w);
      expect(field(name), name).toBe(argBits(...widths) >> ARG_BITS_SHIFT);
    }
    expect(Object.keys(SYSCALL_ARG_BITS).length).toBeGreaterThan(340);
  });

  it('returns a fresh copy each time', () => {
    const a = encodeSyscallTable();
    a[0] = 99;
    expect(encodeSyscallTable()[0]).toBe(Action.Emulate);
  });
});

describe('syscall specs', () => {
  it('are valid rows of the table (checked here, not at every start)', () => {
    expect(() => validateSyscallSpecs()).not.toThrow();
    expect(() => validateSyscallSpecs({ read: { name: 'read', action: 999 } })).toThrow(/syscall spec read: bad action 999/);
    expect(() => validateSyscallSpecs({ nosuchcall: { name: 'nosuchcall', action: Action.Emulate } })).toThrow(/not an x86-64 syscall/);
    expect(() => validateSyscallSpecs({ read: { name: 'read', action: Action.Emulate, outs: [{ arg: 7, size: Size.Fixed, param: 8 }] } })).toThrow(/output argument 7/);
  });

  it('names only syscalls in SYSCALL_NAMES, under their own name', () => {
    for (const [key, spec] of Object.entries(SYSCALL_SPECS)) {
      expect(SYSCALL_NUMBERS[key], key).toBeTypeOf('number');
      expect(spec.name).toBe(key);
      expect(spec.outs?.length ?? 0, key).toBeLessThanOrEqual(MAX_OUTS);
    }
  });

  it('gives every known syscall an explicit spec', () => {
    const missing = Object.values(SYSCALL_NAMES).filter((n) => !(n in SYSCALL_SPECS));
    expect(missing).toEqual([]);
  });

  it.skipIf(!HAVE_UNISTD)('has a row that is not Unknown for every syscall in unistd_64.h', () => {
    const fromHeader = parseUnistd();
    expect(fromHeader.size).toBeGreaterThan(300);
    for (const [nr, name] of fromHeader) {
      expect(SYSCALL_NAMES[nr], `__NR_${name}`).toBe(name);
      expect(nr).toBeLessThan(TABLE_ROWS);
      expect(table[nr * ROW_INTS], name).not.toBe(Action.Unknown);
    }
  });

  it.skipIf(!HAVE_UNISTD)('matches the generator output (syscall-names.ts is up to date)', () => {
    const out = execFileSync(process.execPath, [join(ROOT, 'scripts', 'gen-syscall-names.mjs'), '--check'], {
      encoding: 'utf8',
    });
    expect(out).toMatch(/up to date/);
  });

  it('falls back to syscall_<nr> for unknown numbers', () => {
    expect(syscallName(0)).toBe('read');
    expect(syscallName(60)).toBe('exit');
    expect(syscallName(511)).toBe('syscall_511');
    expect(specFor(1).name).toBe('write');
    expect(specFor(1).spec?.check).toBe(Check.Buffer);
    expect(specFor(511)).toEqual({ name: 'syscall_511', spec: undefined });
  });

  it('checks the bytes of write-like calls', () => {
    const expected: Record<string, [number, number]> = {
      write: [Check.Buffer, RowFlag.Echo],
      pwrite64: [Check.Buffer, RowFlag.Echo],
      writev: [Check.Iovec, RowFlag.Echo],
      pwritev: [Check.Iovec, RowFlag.Echo],
      pwritev2: [Check.Iovec, RowFlag.Echo],
      sendto: [Check.Buffer, 0],
      sendmsg: [Check.Msghdr, 0],
    };
    for (const [name, [check, flags]] of Object.entries(expected)) {
      const r = row(name);
      expect(r[0], name).toBe(Action.Emulate);
      expect(r[1], name).toBe(check);
      expect(r[2] & ((1 << ARG_BITS_SHIFT) - 1), name).toBe(flags);
    }
    // nothing else claims a check or the echo flag
    for (const spec of Object.values(SYSCALL_SPECS)) {
      if (spec.name in expected) continue;
      expect(spec.check ?? Check.None, spec.name).toBe(Check.None);
      expect(spec.flags ?? 0, spec.name).toBe(0);
    }
  });

  it('models the documented rows', () => {
    const outs = (name: string) => SYSCALL_SPECS[name].outs ?? [];
    const norm = (name: string) => outs(name).map((o) => [o.arg, o.size, o.param ?? 0]);
    expect(norm('readv')).toEqual([[1, Size.IovecRet, 2]]);
    expect(norm('pread64')).toEqual(norm('read'));
    expect(norm('accept')).toEqual([
      [1, Size.DerefU32, 2],
      [2, Size.Fixed, 4],
    ]);
    expect(norm('poll')).toEqual([[0, Size.ArgTimes, 1 | (8 << 8)]]);
    expect(norm('epoll_wait')).toEqual([[1, Size.RetTimes, 12]]);
    expect(norm('getdents64')).toEqual([[1, Size.Ret, 0]]);
    expect(norm('getcwd')).toEqual([[0, Size.Ret, 0]]);
    expect(norm('readlink')).toEqual([[1, Size.Ret, 0]]);
    expect(norm('readlinkat')).toEqual([[2, Size.Ret, 0]]);
    expect(norm('clock_gettime')).toEqual([[1, Size.Fixed, 16]]);
    expect(norm('nanosleep')).toEqual([[1, Size.Fixed, 16]]);
    expect(norm('wait4')).toEqual([
      [1, Size.Fixed, 4],
      [3, Size.Fixed, 144],
    ]);
    expect(norm('pipe2')).toEqual([[0, Size.Fixed, 8]]);
    expect(norm('getrandom')).toEqual([[0, Size.Ret, 0]]);
    expect(norm('sched_getaffinity')).toEqual([[2, Size.Ret, 0]]);
    expect(norm('prlimit64')).toEqual([[3, Size.Fixed, 16]]);
    expect(norm('getsockopt')).toEqual([
      [3, Size.DerefU32, 4],
      [4, Size.Fixed, 4],
    ]);
    expect(norm('recvmsg')).toEqual([[1, Size.Msghdr, 0]]);
    expect(norm('ioctl')).toEqual([[2, Size.Ioctl, 0]]);
    expect(norm('stat')).toEqual([[1, Size.FixedIfOk, 144]]);
    expect(norm('statx')).toEqual([[4, Size.FixedIfOk, 256]]);
  });

  it('gives the special syscalls their actions', () => {
    const expected: Record<string, number[]> = {
      [Action.Execute]: [
        'mprotect', 'munmap', 'madvise', 'rt_sigaction', 'rt_sigprocmask', 'sigaltstack',
        'rt_sigreturn', 'pkey_mprotect', 'mlock', 'munlock', 'mlockall', 'munlockall', 'mlock2',
      ].map((n) => SYSCALL_NUMBERS[n]),
      [Action.ExecuteKeepResult]: [SYSCALL_NUMBERS.set_tid_address],
      [Action.Exit]: [SYSCALL_NUMBERS.exit, SYSCALL_NUMBERS.exit_group],
      [Action.Mmap]: [SYSCALL_NUMBERS.mmap],
      [Action.Brk]: [SYSCALL_NUMBERS.brk],
      [Action.Mremap]: [SYSCALL_NUMBERS.mremap],
      [Action.ArchPrctl]: [SYSCALL_NUMBERS.arch_prctl],
      [Action.Refuse]: [SYSCALL_NUMBERS.rseq, SYSCALL_NUMBERS.clone3],
      [Action.WaitSignal]: [SYSCALL_NUMBERS.rt_sigsuspend, SYSCALL_NUMBERS.pause],
      [Action.Fork]: [SYSCALL_NUMBERS.fork, SYSCALL_NUMBERS.vfork, SYSCALL_NUMBERS.clone],
      [Action.Exec]: [SYSCALL_NUMBERS.execve, SYSCALL_NUMBERS.execveat],
      [Action.Emulate]: ['msync', 'membarrier', 'personality', 'read', 'close'].map((n) => SYSCALL_NUMBERS[n]),
      [Action.Unsupported]: [
        'shmat', 'shmdt', 'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'userfaultfd',
        'process_vm_writev', 'remap_file_pages', 'modify_ldt', 'kexec_load', 'kexec_file_load',
      ].map((n) => SYSCALL_NUMBERS[n]),
      // ptrace: the kernel's answer is recorded (EPERM for PTRACE_TRACEME under rewind)
      [Action.Generic]: [
        'recvmmsg', 'io_getevents', 'msgrcv', 'semctl', 'quotactl', 'keyctl', 'bpf', 'perf_event_open', 'ptrace',
      ].map((n) => SYSCALL_NUMBERS[n]),
    };
    for (const [action, numbers] of Object.entries(expected)) {
      for (const nr of numbers) {
        expect(nr, `${action}`).toBeTypeOf('number');
        expect(table[nr * ROW_INTS], syscallName(nr)).toBe(Number(action));
      }
    }
  });
});

describe('struct sizes', () => {
  /** Structures that older kernel headers do not define: checked only when they do. */
  const NEWER_THAN_SOME_HEADERS = new Set(['cachestat']);

  it('match what the C compiler says', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rewind-struct-sizes-'));
    try {
      const exe = join(dir, 'struct-sizes');
      execFileSync('cc', ['-O0', '-o', exe, join(HERE, 'fixtures', 'struct-sizes.c')], { stdio: 'pipe' });
      const output = execFileSync(exe, { encoding: 'utf8' });
      const fromC = new Map<string, number>();
      for (const line of output.trim().split('\n')) {
        const [name, size] = line.trim().split(/\s+/);
        fromC.set(name, Number(size));
      }
      for (const [name, size] of Object.entries(STRUCT_SIZES)) {
        if (!fromC.has(name)) {
          expect(NEWER_THAN_SOME_HEADERS.has(name), `struct-sizes.c does not print ${name}`).toBe(true);
          continue;
        }
        expect(size, name).toBe(fromC.get(name));
      }
      for (const name of fromC.keys()) expect(STRUCT_SIZES, `STRUCT_SIZES lacks ${name}`).toHaveProperty(name);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
