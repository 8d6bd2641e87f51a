// The recorder's state for one traced process, shared by the files of the record
// loop: record_loop.cc (the loop), record_buffer.cc (the in-process syscall
// buffer), record_signals.cc (signal stops and who owns them), record_views.cc
// (what the program sees of the recorder's own settings), record_children.cc
// (the program's child processes).
#pragma once
#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "cpuid_emulation.h"
#include "event_format.h"
#include "loop_result.h"
#include "memory_io.h"
#include "ptrace_ops.h"
#include "syscall_abi.h"

namespace rw {

// The syscall buffer's header (addon/preload/rwpreload.c, docs/syscallbuf.md).
struct BufHeader {
  uint64_t used;
  uint32_t busy, disabled;
  uint64_t capacity;
  uint32_t traced;  // set by the recorder: kTracedFileWrites | kTracedAll calls go the traced way
  uint32_t pad;
};
constexpr uint32_t kTracedFileWrites = 1;  // calls that change files (a data file is mapped)
constexpr uint32_t kTracedAll = 2;         // every call (children share memory with the program)
constexpr uint32_t kTracedStdioWrites = 4; // writes to fds 1 and 2 (several processes: the recorder orders them)
constexpr uint32_t kTracedMayBlock = 8;    // calls that may block (the process has threads)
constexpr uint64_t kBufThread = 2;         // the registration's sixth argument: a thread's own buffer
constexpr uint64_t kBufHeader = 64;               // records start after the header
constexpr uint64_t kBufMagic = 0x52574e44;        // prctl option the preload library registers with
constexpr int64_t kBufMagicOk = 0x52574e4f4bLL;   // the recorder's answer: install the filter
constexpr int64_t kBufMagicFiltered = 0x52574e4f46LL;  // its answer under the filter of an earlier image
// After an exec, the library's untraced instruction is the one in its page at a
// fixed address, which the first image's filter lets through (rwpreload.c).
constexpr uint64_t kUntracedPageAfter = 0x6ffd00000002ull;
constexpr int64_t kBufInterrupted = -0x5257000000LL;  // result of a buffered call a signal interrupted

// What the program would see natively of the settings the recorder changes in it
// (rdtsc and CPUID trapping, the parent-death signal, ASLR off, the buffer's
// seccomp filter).
struct ProgramView {
  int pdeathsig = 0;
  int tscMode = 1;  // PR_TSC_ENABLE
  int seccompMode = 0;
  int noNewPrivs = 0;
  uint32_t persona = 0;
  int cpuid = 1;  // ARCH_GET_CPUID: CPUID not faulting
};

// A fix the recorder makes at a syscall's exit so that the program sees its view.
enum class ExitFix { kNone, kIntAtArg1, kResult, kPersona };

struct Session {
  CpuidState cpuid;  // its CPUID emulation (cpuid_emulation.h): answers, faulting, patched sites
  bool inSyscall = false;
  user_regs_struct entry{};
  int pendingSig = 0;
  bool atExit = false;  // the last stop was a syscall exit, nothing ran since
  user_regs_struct exitRegs{};
  bool annul = false;
  int64_t forcedResult = 0;
  uint32_t checkLen = 0, checkCrc = 0;
  bool generic = false;
  std::vector<Region> snapshot;
  bool execed = false;
  int deferredSig = 0;  // asynchronous signal held back until the next syscall
  siginfo_t deferredInfo{};
  // An asynchronous signal that stopped the program while it computed, to be
  // delivered where it arrived once JS has named the point (record_preempt.h).
  int pointSig = 0;
  siginfo_t pointInfo{};
  // Its slice is over: a SIGSTOP of the recorder's is on its way (record_slices.h).
  bool preemptSent = false;
  // Stopped by it, until JS has named the point (or given up): pointRunTo may steer it.
  bool preempting = false;
  // A signal was just delivered (resumed with it): signals pending at that moment
  // are delivered by the kernel right after it, before any user instruction.
  // Its registers then: a signal stop at the very same registers comes before any
  // user instruction too (a signal that came while the kernel delivered an ignored
  // one: the restart of the interrupted call is not made yet, a state the program
  // never stands at in user mode, so no point could name it).
  bool chainArmed = false;
  uint64_t chainPending = 0;
  user_regs_struct chainRegs{};
  ProgramView view;
  ExitFix exitFix = ExitFix::kNone;
  int64_t exitValue = 0;
  // Syscall buffer: registered by the preload library; seccomp mode once its
  // filter is installed (resume with PTRACE_CONT, PTRACE_EVENT_SECCOMP is the entry).
  // bufAddr is this thread's own buffer (0 until it registers one); procBufAddr the
  // process's first, whose `traced` word the library reads for every thread.
  uint64_t bufAddr = 0, bufCapacity = 0, untracedAfter = 0, tracedAfter = 0;
  uint64_t procBufAddr = 0, procBufSize = 0;
  // The thread's desched event (record_desched.h): set up once; the fd in the thread
  // and the recorder's copy of it (closed with the last copy of the session that
  // holds it); whether the library was last told the signal is blocked.
  bool deschedTried = false;
  int deschedTarget = -1;
  std::shared_ptr<int> deschedFd;
  uint32_t deschedBlocked = 0;
  uint64_t flushed = 0;  // bytes of records already copied into the trace
  bool seccompMode = false;
  bool clearDisabled = false;  // set around a fork-like call: cleared at its exit
  std::set<pid_t> children;    // forked children: they inherit the filter, so they stay traced
  std::set<pid_t> newChildren; // children whose first (SIGSTOP) stop is still to come
  double lastResendMs = 0;
  // Regular files the program mapped (st_dev, st_ino): writes to them change mapped memory.
  std::set<std::pair<uint64_t, uint64_t>> mappedFiles;
  // One of them was mapped shared or through a writable fd: the program is likely to
  // write it, so the syscall buffer sends write-like calls the traced way. (ld.so.cache
  // and locale-archive, mapped read-only by every program, do not turn it on.)
  bool writableMapped = false;
  // Shared memory its children may write (record_shared.cc): the last copy of each
  // writable shared mapping, watched from the first fork on.
  bool watchingShared = false;
  bool sharedMapsChanged = false;
  std::vector<Region> shared;
  // Processes (record_processes.cc): the recorded parent (0 for the root), the
  // last `syscall` instruction the process used (to run one of our own there), and
  // whether its last resume delivered a signal.
  pid_t parent = 0;
  uint64_t syscallInsn = 0;
  // (st_dev, st_ino) of the recording's own stdout and stderr: a write that reaches
  // them is marked kSysEchoed (replay --check echoes those, in recorded order).
  std::pair<uint64_t, uint64_t> echoIds[2] = {{0, 0}, {0, 0}};
  bool resumedWithSignal = false;
  // The recording has more than this process (it forked, or is a child): its writes
  // to the recording's stdout and stderr go traced, so that their order is known.
  bool orderStdio = false;
  // Threads (record_threads.h): the process's first thread (0: this is it), whether
  // the process has had more than one thread (every call goes traced, entries are
  // marked), the thread is dying (PTRACE_EVENT_EXIT seen) and its exit is recorded.
  // The call a signal interrupted with -ERESTART_RESTARTBLOCK (its number, -1 for
  // none, and arguments): restart_syscall goes on with it.
  struct {
    int64_t nr = -1;
    uint64_t args[6] = {};
  } restarting;
  pid_t tgid = 0;
  bool threaded = false;
  bool dying = false;
  bool exitRecorded = false;
  // Dying at PTRACE_EVENT_EXIT, its exit (death, below) still to be recorded: it
  // waits for its turn to run, as user code does (record_threads.h).
  bool exitPending = false;
  Stop death{};
  // The process exec'd from this thread, whose tid it was (record_thread_exec.h):
  // the execve's event, at its exit, goes to that thread's stream. 0 otherwise.
  pid_t execFormerTid = 0;
};

inline void args6(const user_regs_struct& r, uint64_t a[6]) {
  a[0] = r.rdi; a[1] = r.rsi; a[2] = r.rdx; a[3] = r.r10; a[4] = r.r8; a[5] = r.r9;
}

double nowMs();

}  // namespace rw
