// The declarative x86-64 syscall model: for every syscall, what the recorder and the
// replayer do with it (Action), which input bytes replay verifies (Check) and which
// memory the kernel wrote that the recorder must capture (outs). Encoded into an
// Int32Array for the native loops by syscall-table.ts; the codes are in syscall-abi.ts.
//
// Rules followed here:
// - Outputs are captured after the call whenever the pointer is non-null and the size
//   is > 0. Capturing too much is harmless (replay writes back bytes that were already
//   there), capturing too little is a silent replay bug; so sizes are whole structs.
// - FixedIfOk is used only where the kernel writes the output on success alone; where
//   it also writes on failure (nanosleep's remaining time on EINTR, capget's header on
//   EINVAL, sendfile/splice offsets, ...) the size is Fixed.
// - Generic (diff of all writable memory) is kept for rare calls whose outputs cannot
//   be described by a row: they depend on a sub-command, or on pointers stored inside
//   structures.
// - Syscalls the kernel no longer implements (sys_ni_syscall in syscall_64.tbl) are
//   emulated without outputs: they return -ENOSYS and write nothing.

import { Action, Check, RowFlag, Size, type OutSpec, type SyscallSpec } from './abi.js';

/**
 * x86-64 sizes (bytes) of the kernel structures the rows below capture. Checked against
 * the C compiler by tests/unit/syscall-table.test.ts (tests/unit/fixtures/struct-sizes.c).
 * A few are listed for the native side's benefit only (msghdr, iovec, sockaddr_storage,
 * the signal structures of calls that replay executes).
 */
export const STRUCT_SIZES = {
  stat: 144,
  statx: 256,
  statfs: 120,
  timespec: 16,
  timeval: 16,
  timezone: 8,
  tms: 32,
  utsname: 390,
  sysinfo: 112,
  rusage: 144,
  rlimit: 16,
  kernel_sigaction: 32,
  kernel_sigset: 8,
  stack_t: 24,
  itimerval: 32,
  itimerspec: 32,
  siginfo: 128,
  epoll_event: 12,
  pollfd: 8,
  sockaddr_storage: 128,
  msghdr: 56,
  mmsghdr: 64,
  iovec: 16,
  cap_user_header: 8,
  /** two struct __user_cap_data_struct (12 bytes each) for _LINUX_CAPABILITY_VERSION_2/3 */
  cap_user_data_v3: 24,
  sched_param: 4,
  /** struct flock (F_GETLK, F_OFD_GETLK): the largest fcntl output */
  flock: 32,
  f_owner_ex: 8,
  timex: 208,
  mq_attr: 64,
  ustat: 32,
  /** struct file_handle header (8) + MAX_HANDLE_SZ (128) */
  file_handle_max: 136,
  seccomp_notif_sizes: 6,
  kernel_timer_t: 4,
  int: 4,
  /** int[2], pipe/pipe2/socketpair */
  int_pair: 8,
  socklen_t: 4,
  uid_t: 4,
  gid_t: 4,
  loff_t: 8,
  long: 8,
  pointer: 8,
  u64: 8,
  /** struct cachestat: five __u64 (Linux 6.5; older headers cannot check it) */
  cachestat: 40,
} as const;

const S = STRUCT_SIZES;

type Body = Omit<SyscallSpec, 'name'>;

/** The spec of syscall `name`, as SYSCALL_SPECS has it (undefined if it has none). */
export function specOf(name: string): SyscallSpec | undefined {
  return Object.prototype.hasOwnProperty.call(BODIES, name) ? { name, ...BODIES[name] } : undefined;
}

// ---- output descriptors -------------------------------------------------------------

/** `bytes` at the pointer in argument `arg`. */
const fixed = (arg: number, bytes: number): OutSpec => ({ arg, size: Size.Fixed, param: bytes });
/** `bytes` at the pointer in `arg`, only when the call succeeded (result >= 0). */
const fixedIfOk = (arg: number, bytes: number): OutSpec => ({ arg, size: Size.FixedIfOk, param: bytes });
/** the futex word at `arg` (4 bytes) for the futex commands in the bit set `commands` */
const futexWord = (arg: number, commands: number): OutSpec => ({ arg, size: Size.FutexWord, param: commands });
// futex commands: WAKE_OP 5, LOCK_PI 6, UNLOCK_PI 7, TRYLOCK_PI 8, WAIT_REQUEUE_PI 11,
// CMP_REQUEUE_PI 12, LOCK_PI2 13.
const FUTEX_WRITES_UADDR = (1 << 6) | (1 << 7) | (1 << 8) | (1 << 11) | (1 << 13);
const FUTEX_WRITES_UADDR2 = (1 << 5) | (1 << 11) | (1 << 12);
/** as many bytes as the (positive) result */
const ret = (arg: number): OutSpec => ({ arg, size: Size.Ret });
/** result × `elem` bytes */
const retTimes = (arg: number, elem: number): OutSpec => ({ arg, size: Size.RetTimes, param: elem });
/** as many bytes as argument `countArg` says */
const argBytes = (arg: number, countArg: number): OutSpec => ({ arg, size: Size.Arg, param: countArg });
/** argument `countArg` × `elem` bytes */
const argTimes = (arg: number, countArg: number, elem: number): OutSpec => ({
  arg,
  size: Size.ArgTimes,
  param: countArg | (elem << 8),
});
/** as many bytes as the u32 that argument `lenPtrArg` points to holds after the call */
const derefU32 = (arg: number, lenPtrArg: number): OutSpec => ({ arg, size: Size.DerefU32, param: lenPtrArg });
/** iovec array in `arg`, `countArg` entries, result bytes scattered */
const iovecRet = (arg: number, countArg: number): OutSpec => ({ arg, size: Size.IovecRet, param: countArg });
/** fd_set in `arg`, sized by the nfds argument `nfdsArg` */
const fdSet = (arg: number, nfdsArg: number): OutSpec => ({ arg, size: Size.FdSet, param: nfdsArg });
/** struct msghdr filled by recvmsg */
const msghdr = (arg: number): OutSpec => ({ arg, size: Size.Msghdr });
/** ioctl's third argument, sized from the request */
const ioctlArg = (arg: number): OutSpec => ({ arg, size: Size.Ioctl });

// ---- row shapes -----------------------------------------------------------------------

const withOuts = (action: number, outs: OutSpec[]): Body => (outs.length > 0 ? { action, outs } : { action });

/** Annulled in replay; the recorded result and output memory are written in. */
const emulate = (...outs: OutSpec[]): Body => withOuts(Action.Emulate, outs);
/** Executed in replay (changes only the process's own state). */
const execute: Body = { action: Action.Execute };
/** Recorded by diffing writable memory. */
const generic: Body = { action: Action.Generic };
/** Recording stops with an error naming the call. */
const unsupported: Body = { action: Action.Unsupported };
/** A syscall number the x86-64 kernel no longer implements (-ENOSYS, writes nothing). */
const notImplemented: Body = { action: Action.Emulate };

/** Output socket address: `addrArg` receives *`lenArg` bytes, `lenArg` is a socklen_t*. */
const sockaddrOuts = (addrArg: number, lenArg: number): OutSpec[] => [derefU32(addrArg, lenArg), fixed(lenArg, S.socklen_t)];

const BODIES: Record<string, Body> = {
  // ---- file I/O ------------------------------------------------------------------------
  read: emulate(ret(1)),
  pread64: emulate(ret(1)),
  readv: emulate(iovecRet(1, 2)),
  preadv: emulate(iovecRet(1, 2)),
  preadv2: emulate(iovecRet(1, 2)),
  write: { action: Action.Emulate, check: Check.Buffer, flags: RowFlag.Echo },
  pwrite64: { action: Action.Emulate, check: Check.Buffer, flags: RowFlag.Echo },
  writev: { action: Action.Emulate, check: Check.Iovec, flags: RowFlag.Echo },
  pwritev: { action: Action.Emulate, check: Check.Iovec, flags: RowFlag.Echo },
  pwritev2: { action: Action.Emulate, check: Check.Iovec, flags: RowFlag.Echo },
  lseek: emulate(),
  // sendfile(out, in, loff_t *offset, count): the offset is stored back even on failure.
  sendfile: emulate(fixed(2, S.loff_t)),
  // splice(in, loff_t *off_in, out, loff_t *off_out, len, flags): offsets stored back
  // whatever the result.
  splice: emulate(fixed(1, S.loff_t), fixed(3, S.loff_t)),
  tee: emulate(),
  // vmsplice from a pipe into user memory works like readv; towards a pipe it only reads
  // the iovecs (capturing them is harmless).
  vmsplice: emulate(iovecRet(1, 2)),
  copy_file_range: emulate(fixed(1, S.loff_t), fixed(3, S.loff_t)),
  readahead: emulate(),
  fadvise64: emulate(),
  fallocate: emulate(),
  fsync: emulate(),
  fdatasync: emulate(),
  sync: emulate(),
  syncfs: emulate(),
  sync_file_range: emulate(),
  // msync only flushes to the file; in replay the mapping is anonymous, nothing to do.
  msync: emulate(),
  flock: emulate(),
  truncate: emulate(),
  ftruncate: emulate(),
  // ioctl(fd, request, arg): the output size comes from the request's _IOC bits or the
  // native table of classic tty requests.
  ioctl: emulate(ioctlArg(2)),
  // fcntl(fd, cmd, arg): only F_GETLK/F_OFD_GETLK (struct flock, 32 bytes), F_GETOWN_EX
  // (struct f_owner_ex, 8) and F_GET_RW_HINT/F_GET_FILE_RW_HINT (u64, 8) write memory.
  // A row cannot depend on cmd, and Generic would diff the whole address space on every
  // F_GETFL/F_SETFD, which almost every program issues. So the row captures 32 bytes at
  // arg whenever the call succeeds. For the integer-argument commands arg is not a
  // pointer: it is nearly always a small number (flags, an fd, a signal, a pid), below
  // vm.mmap_min_addr and unreadable, so the native read fails and nothing is stored; in
  // the rare case it happens to be a readable address the captured bytes are the ones
  // already there, which replay writes back unchanged (harmless over-capture).
  fcntl: emulate(fixedIfOk(2, S.flock)),

  // ---- files and directories -----------------------------------------------------------
  open: emulate(),
  openat: emulate(),
  openat2: emulate(),
  creat: emulate(),
  open_by_handle_at: emulate(),
  // name_to_handle_at(dirfd, path, struct file_handle *h, int *mount_id, flags): writes
  // 8 + h->handle_bytes (<= MAX_HANDLE_SZ) bytes; on EOVERFLOW it still stores the needed
  // handle_bytes. mount_id is an int, or a u64 with AT_HANDLE_MNT_ID_UNIQUE.
  name_to_handle_at: emulate(fixed(2, S.file_handle_max), fixedIfOk(3, S.u64)),
  close: emulate(),
  close_range: emulate(),
  dup: emulate(),
  dup2: emulate(),
  dup3: emulate(),
  stat: emulate(fixedIfOk(1, S.stat)),
  fstat: emulate(fixedIfOk(1, S.stat)),
  lstat: emulate(fixedIfOk(1, S.stat)),
  newfstatat: emulate(fixedIfOk(2, S.stat)),
  statx: emulate(fixedIfOk(4, S.statx)),
  statfs: emulate(fixedIfOk(1, S.statfs)),
  fstatfs: emulate(fixedIfOk(1, S.statfs)),
  ustat: emulate(fixedIfOk(1, S.ustat)),
  access: emulate(),
  faccessat: emulate(),
  faccessat2: emulate(),
  getdents: emulate(ret(1)),
  getdents64: emulate(ret(1)),
  readlink: emulate(ret(1)),
  readlinkat: emulate(ret(2)),
  // getcwd returns the length including the NUL.
  getcwd: emulate(ret(0)),
  chdir: emulate(),
  fchdir: emulate(),
  chroot: emulate(),
  mkdir: emulate(),
  mkdirat: emulate(),
  rmdir: emulate(),
  unlink: emulate(),
  unlinkat: emulate(),
  rename: emulate(),
  renameat: emulate(),
  renameat2: emulate(),
  link: emulate(),
  linkat: emulate(),
  symlink: emulate(),
  symlinkat: emulate(),
  mknod: emulate(),
  mknodat: emulate(),
  chmod: emulate(),
  fchmod: emulate(),
  fchmodat: emulate(),
  fchmodat2: emulate(),
  chown: emulate(),
  fchown: emulate(),
  lchown: emulate(),
  fchownat: emulate(),
  umask: emulate(),
  utime: emulate(),
  utimes: emulate(),
  futimesat: emulate(),
  utimensat: emulate(),
  setxattr: emulate(),
  lsetxattr: emulate(),
  fsetxattr: emulate(),
  setxattrat: emulate(),
  // getxattr(path, name, value, size): returns the value's length (with size 0, the
  // length it would need, writing nothing).
  getxattr: emulate(ret(2)),
  lgetxattr: emulate(ret(2)),
  fgetxattr: emulate(ret(2)),
  // getxattrat(dfd, path, at_flags, name, struct xattr_args *args, usize): the value
  // pointer and size are inside args.
  getxattrat: generic,
  listxattr: emulate(ret(1)),
  llistxattr: emulate(ret(1)),
  flistxattr: emulate(ret(1)),
  listxattrat: emulate(ret(3)),
  removexattr: emulate(),
  lremovexattr: emulate(),
  fremovexattr: emulate(),
  removexattrat: emulate(),
  // file_getattr(dfd, path, struct file_attr *fa, size_t usize, at_flags): copies usize
  // bytes (zero-filling what the kernel does not know).
  file_getattr: emulate(argBytes(2, 3)),
  file_setattr: emulate(),
  // cachestat(fd, struct cachestat_range *range, struct cachestat *cstat, flags)
  cachestat: emulate(fixedIfOk(2, S.cachestat)),
  inotify_init: emulate(),
  inotify_init1: emulate(),
  inotify_add_watch: emulate(),
  inotify_rm_watch: emulate(),
  fanotify_init: emulate(),
  fanotify_mark: emulate(),
  memfd_create: emulate(),
  // lookup_dcookie(cookie, buf, len) returns the path length (removed in Linux 6.8).
  lookup_dcookie: emulate(ret(1)),

  // ---- pipes, sockets, polling -----------------------------------------------------------
  pipe: emulate(fixed(0, S.int_pair)),
  pipe2: emulate(fixed(0, S.int_pair)),
  socket: emulate(),
  socketpair: emulate(fixedIfOk(3, S.int_pair)),
  connect: emulate(),
  bind: emulate(),
  listen: emulate(),
  accept: emulate(...sockaddrOuts(1, 2)),
  accept4: emulate(...sockaddrOuts(1, 2)),
  getsockname: emulate(...sockaddrOuts(1, 2)),
  getpeername: emulate(...sockaddrOuts(1, 2)),
  // getsockopt(fd, level, name, optval, socklen_t *optlen)
  getsockopt: emulate(derefU32(3, 4), fixed(4, S.socklen_t)),
  setsockopt: emulate(),
  // recvfrom(fd, buf, len, flags, struct sockaddr *src, socklen_t *addrlen)
  recvfrom: emulate(ret(1), ...sockaddrOuts(4, 5)),
  recvmsg: emulate(msghdr(1)),
  // recvmmsg: an array of msghdrs, each with its own name, control and iovecs.
  recvmmsg: generic,
  sendto: { action: Action.Emulate, check: Check.Buffer },
  sendmsg: { action: Action.Emulate, check: Check.Msghdr },
  // sendmmsg(fd, struct mmsghdr *vec, vlen, flags) stores msg_len into each entry sent.
  sendmmsg: emulate(retTimes(1, S.mmsghdr)),
  shutdown: emulate(),
  poll: emulate(argTimes(0, 1, S.pollfd)),
  // ppoll(fds, nfds, struct timespec *tsp, sigmask, sigsetsize): the remaining time is
  // stored back into tsp, also when interrupted.
  ppoll: emulate(argTimes(0, 1, S.pollfd), fixed(2, S.timespec)),
  // select(nfds, readfds, writefds, exceptfds, struct timeval *timeout): the remaining
  // time is stored back, also when interrupted.
  select: emulate(fdSet(1, 0), fdSet(2, 0), fdSet(3, 0), fixed(4, S.timeval)),
  pselect6: emulate(fdSet(1, 0), fdSet(2, 0), fdSet(3, 0), fixed(4, S.timespec)),
  epoll_create: emulate(),
  epoll_create1: emulate(),
  epoll_ctl: emulate(),
  epoll_wait: emulate(retTimes(1, S.epoll_event)),
  epoll_pwait: emulate(retTimes(1, S.epoll_event)),
  epoll_pwait2: emulate(retTimes(1, S.epoll_event)),
  epoll_ctl_old: notImplemented,
  epoll_wait_old: notImplemented,
  eventfd: emulate(),
  eventfd2: emulate(),
  signalfd: emulate(),
  signalfd4: emulate(),
  timerfd_create: emulate(),
  timerfd_settime: emulate(fixedIfOk(3, S.itimerspec)),
  timerfd_gettime: emulate(fixedIfOk(1, S.itimerspec)),

  // ---- time ----------------------------------------------------------------------------------
  clock_gettime: emulate(fixed(1, S.timespec)),
  clock_getres: emulate(fixedIfOk(1, S.timespec)),
  clock_settime: emulate(),
  clock_adjtime: emulate(fixedIfOk(1, S.timex)),
  adjtimex: emulate(fixedIfOk(0, S.timex)),
  // clock_nanosleep(clock, flags, req, rem): rem is written when interrupted.
  clock_nanosleep: emulate(fixed(3, S.timespec)),
  nanosleep: emulate(fixed(1, S.timespec)),
  gettimeofday: emulate(fixedIfOk(0, S.timeval), fixedIfOk(1, S.timezone)),
  settimeofday: emulate(),
  time: emulate(fixed(0, S.long)),
  // times returns clock ticks, which is not an error indicator: always capture.
  times: emulate(fixed(0, S.tms)),
  alarm: emulate(),
  getitimer: emulate(fixedIfOk(1, S.itimerval)),
  setitimer: emulate(fixedIfOk(2, S.itimerval)),
  timer_create: emulate(fixedIfOk(2, S.kernel_timer_t)),
  timer_settime: emulate(fixedIfOk(3, S.itimerspec)),
  timer_gettime: emulate(fixedIfOk(1, S.itimerspec)),
  timer_getoverrun: emulate(),
  timer_delete: emulate(),

  // ---- system and process information --------------------------------------------------------
  getrandom: emulate(ret(0)),
  uname: emulate(fixedIfOk(0, S.utsname)),
  sysinfo: emulate(fixedIfOk(0, S.sysinfo)),
  getrusage: emulate(fixedIfOk(1, S.rusage)),
  // prlimit64(pid, resource, new, old)
  prlimit64: emulate(fixed(3, S.rlimit)),
  getrlimit: emulate(fixedIfOk(1, S.rlimit)),
  setrlimit: emulate(),
  // syslog(type, buf, len): the read actions (2, 3, 4) return the byte count they stored
  // in buf. The others ignore buf (glibc's klogctl passes NULL) and return a number or a
  // size: a non-pointer buf fails to read, a real one is only over-captured.
  syslog: emulate(ret(1)),
  // sysfs(2, index, buf) stores a filesystem type name of strlen+1 bytes, which neither
  // the arguments nor the result (0) give; options 1 and 3 write nothing.
  sysfs: generic,
  personality: emulate(),
  getpriority: emulate(),
  setpriority: emulate(),
  ioprio_get: emulate(),
  ioprio_set: emulate(),
  sched_yield: emulate(),
  sched_getaffinity: emulate(ret(2)),
  sched_setaffinity: emulate(),
  sched_getparam: emulate(fixedIfOk(1, S.sched_param)),
  sched_setparam: emulate(),
  sched_getscheduler: emulate(),
  sched_setscheduler: emulate(),
  sched_get_priority_max: emulate(),
  sched_get_priority_min: emulate(),
  sched_rr_get_interval: emulate(fixedIfOk(1, S.timespec)),
  // sched_getattr(pid, struct sched_attr *attr, unsigned size, flags) copies size bytes
  // (what it does not know, zero-filled) at most.
  sched_getattr: emulate(argBytes(1, 2)),
  sched_setattr: emulate(),
  getcpu: emulate(fixedIfOk(0, S.int), fixedIfOk(1, S.int)),
  getpid: emulate(),
  getppid: emulate(),
  gettid: emulate(),
  getuid: emulate(),
  geteuid: emulate(),
  getgid: emulate(),
  getegid: emulate(),
  getresuid: emulate(fixedIfOk(0, S.uid_t), fixedIfOk(1, S.uid_t), fixedIfOk(2, S.uid_t)),
  getresgid: emulate(fixedIfOk(0, S.gid_t), fixedIfOk(1, S.gid_t), fixedIfOk(2, S.gid_t)),
  // getgroups(size, list) returns the number of groups (stored only when size > 0).
  getgroups: emulate(retTimes(1, S.gid_t)),
  setgroups: emulate(),
  setuid: emulate(),
  setgid: emulate(),
  setreuid: emulate(),
  setregid: emulate(),
  setresuid: emulate(),
  setresgid: emulate(),
  setfsuid: emulate(),
  setfsgid: emulate(),
  setsid: emulate(),
  getsid: emulate(),
  setpgid: emulate(),
  getpgid: emulate(),
  getpgrp: emulate(),
  // capget(header, data): an unknown header->version is answered by storing the
  // preferred one and failing with EINVAL; data gets 12 bytes (v1) or 24 (v2, v3).
  capget: emulate(fixed(0, S.cap_user_header), fixedIfOk(1, S.cap_user_data_v3)),
  capset: emulate(),
  // prctl(option, arg2, arg3, arg4, arg5): what is written depends on option. Most
  // PR_GET_* store an int or PR_GET_NAME 16 bytes at arg2, but PR_GET_AUXV stores up to
  // arg3 bytes, PR_SET_MM/PR_SET_MM_MAP_SIZE stores at arg3 and PR_SCHED_CORE_GET at
  // arg5, so a "16 bytes at arg2" row would silently miss those. prctl is called a few
  // times per process, not in loops, so the exact Generic diff is affordable.
  prctl: generic,
  // arch_prctl: ARCH_GET_FS/GS, ARCH_GET_XCOMP_*, ARCH_SHSTK_STATUS store a u64 at arg1.
  // For ARCH_SET_FS/GS (executed in replay) arg1 is the TLS base: over-capture, harmless.
  arch_prctl: { action: Action.ArchPrctl, outs: [fixedIfOk(1, S.u64)] },
  kcmp: emulate(),
  // seccomp(SECCOMP_GET_NOTIF_SIZES, 0, struct seccomp_notif_sizes *); the other
  // operations only read arg2.
  seccomp: emulate(fixedIfOk(2, S.seccomp_notif_sizes)),
  landlock_create_ruleset: emulate(),
  landlock_add_rule: emulate(),
  landlock_restrict_self: emulate(),
  // lsm_get_self_attr(attr, struct lsm_ctx *ctx, u32 *size, flags): *size is the length
  // stored in ctx (or needed, with E2BIG).
  lsm_get_self_attr: emulate(derefU32(1, 2), fixed(2, S.int)),
  lsm_set_self_attr: emulate(),
  // lsm_list_modules(u64 *ids, u32 *size, flags)
  lsm_list_modules: emulate(derefU32(0, 1), fixed(1, S.int)),

  // ---- signals ------------------------------------------------------------------------------
  kill: emulate(),
  tkill: emulate(),
  tgkill: emulate(),
  pidfd_send_signal: emulate(),
  rt_sigqueueinfo: emulate(),
  rt_tgsigqueueinfo: emulate(),
  // Replay executes these, so the kernel writes their old-value outputs itself. The
  // old action is stored all the same: replay answers a query from it, and a set
  // that changes nothing the kernel does, without running them (addon/replay_sigaction.h).
  rt_sigaction: { action: Action.Execute, outs: [fixedIfOk(2, S.kernel_sigaction)] },
  rt_sigprocmask: execute,
  sigaltstack: execute,
  rt_sigreturn: execute,
  // rt_sigpending(set, sigsetsize)
  rt_sigpending: emulate(argBytes(0, 1)),
  // rt_sigtimedwait(set, siginfo_t *info, timeout, sigsetsize) returns the signal.
  rt_sigtimedwait: emulate(fixedIfOk(1, S.siginfo)),
  rt_sigsuspend: { action: Action.WaitSignal },
  pause: { action: Action.WaitSignal },
  // restart_syscall resumes an interrupted nanosleep, clock_nanosleep, poll, ppoll, futex,
  // ...: what it writes is that call's output, which the row cannot know.
  restart_syscall: generic,

  // ---- processes and threads ----------------------------------------------------------------
  // clone(flags, stack, int *parent_tid, int *child_tid, tls): CLONE_PARENT_SETTID and
  // CLONE_PIDFD store an int at parent_tid in the parent. (child_tid is written in the
  // child's memory.)
  clone: { action: Action.Fork, outs: [fixedIfOk(2, S.int)] },
  fork: { action: Action.Fork },
  vfork: { action: Action.Fork },
  // clone3(struct clone_args *args, size): the flags, and the pidfd/parent_tid pointers
  // the kernel writes through, are inside the structure, which the native Fork handling
  // does not read (it checks clone's flags in a register). glibc falls back to clone on
  // ENOSYS, so the recorder refuses clone3 with ENOSYS, as it does rseq.
  clone3: { action: Action.Refuse },
  execve: { action: Action.Exec },
  execveat: { action: Action.Exec },
  exit: { action: Action.Exit },
  exit_group: { action: Action.Exit },
  // wait4(pid, int *status, options, struct rusage *ru)
  wait4: emulate(fixed(1, S.int), fixed(3, S.rusage)),
  // waitid(idtype, id, siginfo_t *info, options, struct rusage *ru)
  waitid: emulate(fixedIfOk(2, S.siginfo), fixedIfOk(4, S.rusage)),
  set_tid_address: { action: Action.ExecuteKeepResult },
  // The kernel walks the robust list when the thread exits and marks the futexes it
  // still holds: executed so replay's kernel does the same to the process's memory.
  set_robust_list: execute,
  // get_robust_list(pid, struct robust_list_head **head, size_t *len)
  get_robust_list: emulate(fixedIfOk(1, S.pointer), fixedIfOk(2, S.long)),
  rseq: { action: Action.Refuse },
  // futex(uaddr, op, val, timeout/val2, uaddr2, val3): the PI operations update *uaddr
  // (owner tid, FUTEX_WAITERS, OWNER_DIED), FUTEX_WAKE_OP and the requeue-PI operations
  // modify *uaddr2. Only those words are recorded: the others (a WAIT's, a WAKE's) are
  // the program's, which other threads change while the call is in the kernel, so a
  // copy read at the call's return would undo their stores in replay.
  futex: emulate(futexWord(0, FUTEX_WRITES_UADDR), futexWord(4, FUTEX_WRITES_UADDR2)),
  futex_waitv: emulate(),
  futex_wake: emulate(),
  futex_wait: emulate(),
  futex_requeue: emulate(),
  unshare: emulate(),
  setns: emulate(),
  pidfd_open: emulate(),
  pidfd_getfd: emulate(),
  process_mrelease: emulate(),
  // process_vm_readv(pid, local_iov, liovcnt, remote_iov, riovcnt, flags) stores the bytes
  // read into the local iovecs.
  process_vm_readv: emulate(iovecRet(1, 2)),
  process_vm_writev: unsupported,
  // ptrace: the kernel answers, and that answer is recorded (outputs by memory diff:
  // PEEK* and GETREGS-like requests write through pointers). The recorded process is
  // traced by rewind, so PTRACE_TRACEME fails with EPERM as under any debugger, and
  // so does attaching to its children while rewind traces them (with the syscall
  // buffer); children rewind lets go can be traced by the program, live. Attaching
  // to the recorder itself is answered EPERM without asking the kernel
  // (record_views.cc). rewind does not emulate ptrace between recorded processes.
  ptrace: generic,
  membarrier: emulate(),

  // ---- memory ---------------------------------------------------------------------------------
  mmap: { action: Action.Mmap },
  brk: { action: Action.Brk },
  mremap: { action: Action.Mremap },
  munmap: execute,
  mprotect: execute,
  pkey_mprotect: execute,
  // pkey_alloc sets the new key's rights in PKRU: the process's own register state.
  pkey_alloc: execute,
  pkey_free: execute,
  madvise: execute,
  mlock: execute,
  mlock2: execute,
  munlock: execute,
  mlockall: execute,
  munlockall: execute,
  // Sealed mappings refuse later munmap/mprotect/mremap, which replay executes.
  mseal: execute,
  // mincore(addr, len, vec) stores one byte per page of len: no Size kind for that.
  mincore: generic,
  process_madvise: emulate(),
  mbind: emulate(),
  set_mempolicy: emulate(),
  set_mempolicy_home_node: emulate(),
  // get_mempolicy(int *mode, nodemask, maxnode, addr, flags): the nodemask holds maxnode
  // bits rounded to longs: no Size kind for that.
  get_mempolicy: generic,
  migrate_pages: emulate(),
  // move_pages(pid, count, pages, nodes, int *status, flags)
  move_pages: emulate(argTimes(4, 1, S.int)),
  remap_file_pages: unsupported,
  // Secret memory cannot be read through ptrace or /proc/pid/mem.
  memfd_secret: unsupported,
  // Maps a shadow stack the replay cannot reproduce.
  map_shadow_stack: unsupported,
  // Only issued by the kernel's uprobe trampolines (an external tracer's probes).
  uretprobe: unsupported,
  uprobe: unsupported,
  modify_ldt: unsupported,
  // I/O port permissions: in/out instructions would behave differently in replay.
  iopl: unsupported,
  ioperm: unsupported,
  // Maps an a.out library (no entry point on recent kernels, CONFIG_USELIB before).
  uselib: unsupported,

  // ---- System V IPC, message queues, keys ---------------------------------------------------
  shmget: emulate(),
  shmat: unsupported,
  shmdt: unsupported,
  // shmctl/semctl/msgctl: the output (a *_ds structure, a semaphore array, an info
  // structure, nothing) depends on the command.
  shmctl: generic,
  semget: emulate(),
  semop: emulate(),
  semtimedop: emulate(),
  semctl: generic,
  msgget: emulate(),
  msgsnd: emulate(),
  // msgrcv stores mtype (8 bytes) followed by the result's byte count.
  msgrcv: generic,
  msgctl: generic,
  mq_open: emulate(),
  mq_unlink: emulate(),
  mq_timedsend: emulate(),
  // mq_timedreceive(mqd, buf, len, unsigned *prio, abs_timeout) returns the message size.
  mq_timedreceive: emulate(ret(1), fixedIfOk(3, S.int)),
  mq_notify: emulate(),
  // mq_getsetattr(mqd, new, struct mq_attr *old)
  mq_getsetattr: emulate(fixedIfOk(2, S.mq_attr)),
  add_key: emulate(),
  request_key: emulate(),
  keyctl: generic,

  // ---- asynchronous I/O ---------------------------------------------------------------------
  // io_setup maps the completion ring into the process (and libaio reads it directly).
  io_setup: unsupported,
  io_destroy: emulate(),
  io_submit: generic,
  io_cancel: generic,
  io_getevents: generic,
  io_pgetevents: generic,
  io_uring_setup: unsupported,
  io_uring_enter: unsupported,
  io_uring_register: unsupported,
  userfaultfd: unsupported,

  // ---- rare and administrative ---------------------------------------------------------------
  perf_event_open: generic,
  bpf: generic,
  quotactl: generic,
  quotactl_fd: generic,
  // Removed in Linux 5.5; before that it stored through pointers inside its argument.
  _sysctl: generic,
  // statmount/listmount (Linux 6.8): variable-sized results.
  statmount: generic,
  listmount: generic,
  // listns(struct ns_id_req *req, u64 *ids, size_t nr, flags) returns the ids stored.
  listns: emulate(retTimes(1, S.u64)),
  mount: emulate(),
  umount2: emulate(),
  mount_setattr: emulate(),
  open_tree: emulate(),
  open_tree_attr: emulate(),
  move_mount: emulate(),
  fsopen: emulate(),
  fsconfig: emulate(),
  fsmount: emulate(),
  fspick: emulate(),
  pivot_root: emulate(),
  swapon: emulate(),
  swapoff: emulate(),
  reboot: emulate(),
  sethostname: emulate(),
  setdomainname: emulate(),
  acct: emulate(),
  vhangup: emulate(),
  init_module: emulate(),
  finit_module: emulate(),
  delete_module: emulate(),
  kexec_load: unsupported,
  kexec_file_load: unsupported,

  // ---- numbers without an implementation on x86-64 (sys_ni_syscall) --------------------------
  create_module: notImplemented,
  get_kernel_syms: notImplemented,
  query_module: notImplemented,
  nfsservctl: notImplemented,
  getpmsg: notImplemented,
  putpmsg: notImplemented,
  afs_syscall: notImplemented,
  tuxcall: notImplemented,
  security: notImplemented,
  set_thread_area: notImplemented,
  get_thread_area: notImplemented,
  vserver: notImplemented,
};

/**
 * Every x86-64 syscall rewind knows, keyed by name. Built only where it is used (the
 * bundles drop it otherwise: ~0.5 ms of a start, docs/startup.md); the syscall table
 * takes each spec from specOf.
 */
export const SYSCALL_SPECS: Record<string, SyscallSpec> = /* @__PURE__ */ specsByName();

function specsByName(): Record<string, SyscallSpec> {
  return Object.fromEntries(Object.entries(BODIES).map(([name, body]) => [name, { name, ...body }]));
}

