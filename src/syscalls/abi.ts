// Numeric codes shared with addon/syscall_abi.h: the declarative syscall table is
// written in TypeScript (syscalls.ts) and handed to the native record/replay loops
// as an Int32Array of TABLE_ROWS rows of ROW_INTS ints. Keep both files in step.

export const TABLE_ROWS = 512;
export const ROW_INTS = 16;
export const MAX_OUTS = 4;

/** What the recorder and the replayer do with a syscall. */
export const Action = {
  /** Not an x86-64 syscall number rewind knows: recording stops with an error. */
  Unknown: 0,
  /** Replay annuls it and writes the recorded result and output memory. */
  Emulate: 1,
  /** Replay executes it too (it changes only the process's own state); result compared. */
  Execute: 2,
  /** mmap: replay maps anonymous memory at the recorded address (file content follows as an event). */
  Mmap: 3,
  /** brk: replay emulates the heap with anonymous mappings at the recorded addresses. */
  Brk: 4,
  /** mremap: replay executes it with MREMAP_FIXED at the recorded address. */
  Mremap: 5,
  /** Known syscall without a precise model: recorder diffs writable memory around it. */
  Generic: 6,
  /** fork/vfork/clone: the child runs live, untraced; replay returns the recorded pid. */
  Fork: 7,
  /** execve/execveat: the address space is snapshotted again after a successful exec. */
  Exec: 8,
  /** Cannot be recorded faithfully yet: recording stops with an error naming it. */
  Unsupported: 9,
  /**
   * Refused with ENOSYS while recording, so the program falls back to an older call:
   * rseq (the kernel would write cpu ids behind the recorder's back), clone3 (its
   * flags live in memory; glibc falls back to clone, whose flags are checked).
   */
  Refuse: 10,
  /** Blocks until a signal arrives (rt_sigsuspend, pause): replay executes it with the signal queued. */
  WaitSignal: 11,
  /** arch_prctl: ARCH_SET_FS/ARCH_SET_GS executed, the rest emulated. */
  ArchPrctl: 12,
  /** exit/exit_group: executed. */
  Exit: 13,
  /** Executed in replay, but its result is the recorded one (set_tid_address returns a tid). */
  ExecuteKeepResult: 14,
} as const;

/** How a write-like syscall's input bytes are checked in replay (crc32 of the bytes). */
export const Check = {
  None: 0,
  /** arg1 = buffer, arg2 = length */
  Buffer: 1,
  /** arg1 = iovec array, arg2 = iovec count */
  Iovec: 2,
  /** arg1 = struct msghdr (its iovecs) */
  Msghdr: 3,
} as const;

/** How many bytes an output argument received; `param` refines it. */
export const Size = {
  None: 0,
  /** param = byte count */
  Fixed: 1,
  /** param = index of the argument that holds the byte count */
  Arg: 2,
  /** the return value, when positive */
  Ret: 3,
  /** return value × param bytes, when positive */
  RetTimes: 4,
  /** param = index of an argument pointing to a u32 length (socklen_t*), read after the call */
  DerefU32: 5,
  /** the output is an iovec array; param = index of the count argument; return value bytes scattered */
  IovecRet: 6,
  /** the output is a struct msghdr filled by recvmsg (name, control, flags, iovecs) */
  Msghdr: 7,
  /** an fd_set; param = index of the nfds argument */
  FdSet: 8,
  /** param = (argIndex | elementSize << 8): count argument × element size */
  ArgTimes: 9,
  /** ioctl: size from the request's _IOC bits or the table of classic tty requests */
  Ioctl: 10,
  /** param = byte count, only if the argument (pointer) is non-null and the return value is >= 0 */
  FixedIfOk: 11,
  /** futex: the 4-byte word, only for the commands (op without PRIVATE and CLOCK_REALTIME) whose bit is set in param */
  FutexWord: 12,
} as const;

/** Flag bits in a row's flags slot. */
export const RowFlag = {
  /** write-like call whose bytes to fd 1/2 replay echoes (write, writev, pwrite64, pwritev). */
  Echo: 1,
} as const;

/**
 * The flags slot also says which argument registers (rdi, rsi, rdx, r10, r8, r9) the
 * call reads and how many bits of each: 2 bits per argument from ARG_BITS_SHIFT on
 * (argument i at ARG_BITS_SHIFT + 2i). Replay compares only those bits with the
 * recording: a register the kernel never reads may hold anything (docs/portability.md).
 */
export const ARG_BITS_SHIFT = 8;
export const ArgBits = { Unread: 0, Low16: 1, Low32: 2, All: 3 } as const;

export interface OutSpec {
  /** index (0-5) of the argument holding the output pointer */
  arg: number;
  size: number;
  param?: number;
}

export interface SyscallSpec {
  name: string;
  action: number;
  check?: number;
  flags?: number;
  outs?: OutSpec[];
}
