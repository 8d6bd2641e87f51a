// forkCopyThreads (thread_copy.h): each thread's state is read in the original
// first, the calling thread is forked, and the other threads are cloned in the copy
// from its one thread and given their originals' state.
//
// Where the state comes from: registers, the XSAVE area and the signal mask through
// ptrace; the robust list with get_robust_list from the tracer; the name from
// /proc. Two things only the thread itself can say: its clear-tid address
// (prctl(PR_GET_TID_ADDRESS), the futex glibc's pthread_join waits on) and its
// sigaltstack. Those are syscalls injected into each original thread, writing into
// a few bytes of its stack below the red zone, given back afterwards.
//
// Where it goes: a thread cloned with CLONE_THREAD starts with no robust list, no
// clear-tid address and no sigaltstack (the kernel clears them for a thread of the
// same memory); each is set by a syscall injected into the new thread, the signal
// mask and the XSAVE area with ptrace, and the registers last, fs and gs base with
// them. The forked thread keeps its sigaltstack, mask, name and XSAVE state, and
// gets the robust list and clear-tid address, which fork drops.
//
// Signals queued at the copy point (PTRACE_PEEKSIGINFO reads them, siginfo and
// order, without taking them) are queued again in the copy, each thread's for its
// copy and the process's for the copy process, by the copy's threads themselves
// (rt_tgsigqueueinfo, rt_sigqueueinfo), with every signal blocked meanwhile.
#include "thread_copy.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <string>

#include "process_copy.h"
#include "ptrace_ops.h"
#include "thread_inject.h"
#include "tracer_thread.h"

namespace rw {
namespace {

// A thread of the same process, as pthread_create makes one; exit signal 0.
constexpr uint64_t kThreadFlags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
constexpr int kPrGetTidAddress = 40;  // PR_GET_TID_ADDRESS (CONFIG_CHECKPOINT_RESTORE)
constexpr int kSsAutodisarm = int(1u << 31);

// The kernel's stack_t.
struct AltStack {
  uint64_t sp;
  int32_t flags;
  int32_t pad;
  uint64_t size;
};
static_assert(sizeof(AltStack) == 24, "stack_t");

struct ThreadState {
  pid_t tid = 0;
  user_regs_struct regs;
  bool atEntry = false;  // stopped at a syscall's entry (regs: as there)
  std::vector<uint8_t> xstate;
  uint64_t sigmask = 0;
  uint64_t robustHead = 0, robustLen = 0;
  uint64_t clearTid = 0;
  AltStack altStack{};
  std::string name;
  std::vector<siginfo_t> pending;  // its own queue (tgkill, faults), in order
};

[[noreturn]] void fail(pid_t tid, int err, const std::string& what) {
  throw NativeError{err, "copy of thread " + std::to_string(tid) + ": " + what};
}

// Bytes below the red zone of a stopped thread's stack, lent to an injected
// syscall's argument or result and given back when it goes out of scope.
class Scratch {
 public:
  static constexpr size_t kSize = 256;  // room for a siginfo_t
  Scratch(pid_t mem, pid_t tid, uint64_t rsp) : mem_(mem), addr_((rsp - 128 - kSize) & ~uint64_t(15)) {
    if (readMemory(mem, addr_, saved_, kSize) != kSize) fail(tid, EFAULT, "its stack is not readable below rsp");
  }
  ~Scratch() {
    try {
      writeMemory(mem_, addr_, saved_, kSize);
    } catch (...) {
    }
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  uint64_t addr() const { return addr_; }

 private:
  pid_t mem_;
  uint64_t addr_;
  uint8_t saved_[kSize];
};

// A syscall run in the stopped thread tid (injectSyscall), its registers and the
// siginfo of the stop it was in given back; a negative result is an error.
int64_t injectInto(pid_t tid, uint64_t insn, long nr, const char* what, std::initializer_list<uint64_t> args) {
  uint64_t a[6] = {};
  size_t i = 0;
  for (uint64_t v : args) a[i++] = v;
  user_regs_struct saved = getRegs(tid);
  // a signal-delivery stop stays one (the injection ends in a single-step trap):
  // its siginfo is put back, so a signal the caller delivers on resuming keeps it
  siginfo_t si;
  bool hadInfo = ptrace(PTRACE_GETSIGINFO, tid, nullptr, &si) == 0;
  int64_t r;
  try {
    r = injectSyscall(tid, insn, nr, a);
  } catch (...) {
    try {
      setRegs(tid, saved);
    } catch (...) {
    }
    throw;
  }
  if (hadInfo) ptrace(PTRACE_SETSIGINFO, tid, nullptr, &si);
  if (r < 0 && r > -4096) fail(tid, int(-r), what);
  return r;
}

// A thread must be in a ptrace stop of this tracer, and not at a seccomp stop.
// Returns whether it stands at a syscall's entry (see leaveEntry).
bool checkCopyable(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", int(tid));
  FILE* f = std::fopen(path, "r");
  if (!f) fail(tid, ESRCH, "it is gone");
  char line[256], state = 0;
  int tracer = 0;
  while (std::fgets(line, sizeof line, f)) {
    std::sscanf(line, "State: %c", &state);
    std::sscanf(line, "TracerPid: %d", &tracer);
  }
  std::fclose(f);
  if (tracer != int(syscall(SYS_gettid)) || state != 't')
    fail(tid, ESRCH, "it is not in a ptrace stop of this tracer (every thread must be stopped)");
  struct __ptrace_syscall_info info;
  std::memset(&info, 0, sizeof info);
  if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void*)sizeof info, &info) <= 0) fail(tid, errno, "PTRACE_GET_SYSCALL_INFO");
  if (info.op == PTRACE_SYSCALL_INFO_SECCOMP) fail(tid, EBUSY, "it is stopped at a seccomp stop");
  return info.op == PTRACE_SYSCALL_INFO_ENTRY;
}

// The signals queued for thread tid (shared: for its process), in order, with their
// siginfo, as PTRACE_PEEKSIGINFO reads them without taking them off.
std::vector<siginfo_t> peekPending(pid_t tid, bool shared) {
  std::vector<siginfo_t> out;
  for (;;) {
    siginfo_t batch[16];
    struct __ptrace_peeksiginfo_args args = {out.size(), shared ? uint32_t(PTRACE_PEEKSIGINFO_SHARED) : 0u, 16};
    long got = ptrace(PTRACE_PEEKSIGINFO, tid, &args, batch);
    if (got < 0) fail(tid, errno, "ptrace(PTRACE_PEEKSIGINFO)");
    if (got == 0) return out;
    out.insert(out.end(), batch, batch + got);
  }
}

std::string threadName(pid_t pid, pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name.substr(0, 15);
}

// Everything copied of one thread of the original (process pid, whose memory the
// injections borrow from).
ThreadState capture(pid_t pid, pid_t tid, uint64_t insn) {
  ThreadState s;
  s.tid = tid;
  s.regs = getRegs(tid);
  s.xstate = getXState(tid);
  if (ptrace(PTRACE_GETSIGMASK, tid, (void*)sizeof s.sigmask, &s.sigmask) != 0)
    fail(tid, errno, "ptrace(PTRACE_GETSIGMASK)");
  size_t len = 0;
  void* head = nullptr;
  if (syscall(SYS_get_robust_list, tid, &head, &len) != 0) fail(tid, errno, "get_robust_list");
  s.robustHead = uint64_t(head);
  s.robustLen = len;
  s.name = threadName(pid, tid);
  s.pending = peekPending(tid, false);
  // a signal waiting for the thread stays queued through the injections below
  SignalHold hold(tid, s.sigmask);
  Scratch scratch(pid, tid, s.regs.rsp);
  injectInto(tid, insn, SYS_prctl, "prctl(PR_GET_TID_ADDRESS)", {kPrGetTidAddress, scratch.addr()});
  readMemory(pid, scratch.addr(), &s.clearTid, sizeof s.clearTid);
  injectInto(tid, insn, SYS_sigaltstack, "sigaltstack", {0, scratch.addr()});
  readMemory(pid, scratch.addr(), &s.altStack, sizeof s.altStack);
  hold.release();
  return s;
}

// A new thread of the copy, cloned from its stopped thread `from` (whose registers
// are given back), stopped at its first stop, before any instruction of its own.
pid_t cloneThread(pid_t from, uint64_t insn) {
  user_regs_struct saved = getRegs(from), r = saved;
  r.rax = SYS_clone;
  r.orig_rax = uint64_t(-1);
  r.rdi = kThreadFlags;
  r.rsi = 0;  // the same stack: the thread runs nothing before it gets its registers
  r.rdx = r.r10 = r.r8 = r.r9 = 0;
  r.rip = insn;
  r.cs = 0x33;  // __USER_CS: see forkCopyCaller
  r.ss = 0x2b;
  pid_t child = -1;
  try {
    setRegs(from, r);
    Stop st;
    for (int tries = 0; tries < 4; tries++) {
      resume(from, PTRACE_SINGLESTEP, 0);
      st = waitStop(from);
      if (!(st.kind == Stop::kSignal && st.sig == SIGSTOP)) break;
    }
    if (st.kind != Stop::kEvent || st.event != PTRACE_EVENT_CLONE)
      fail(from, EPROTO, "the injected clone made no clone event (stop kind " + std::to_string(st.kind) + ", signal " +
                             std::to_string(st.sig) + ")");
    unsigned long msg = 0;
    ptrace(PTRACE_GETEVENTMSG, from, nullptr, &msg);
    child = pid_t(msg);
    resume(from, PTRACE_SINGLESTEP, 0);
    st = waitStop(from);
    if (st.kind != Stop::kSignal || st.sig != SIGTRAP) fail(from, EPROTO, "the clone did not return to a single-step trap");
    Stop cs = waitStop(child);
    if (cs.kind != Stop::kSignal) fail(child, EPROTO, "the new thread did not stop");
  } catch (...) {
    try {
      setRegs(from, saved);
    } catch (...) {
    }
    throw;
  }
  setRegs(from, saved);
  return child;
}

// What fork and clone drop of a thread's state, set by syscalls injected into the
// copy's thread tid (memory borrowed from process mem's thread `stack`).
void setDroppedState(pid_t mem, pid_t tid, pid_t stack, uint64_t insn, const ThreadState& s, bool newThread) {
  Scratch scratch(mem, stack, getRegs(stack).rsp);
  if (s.robustHead)
    injectInto(tid, insn, SYS_set_robust_list, "set_robust_list", {s.robustHead, s.robustLen});
  if (s.clearTid) injectInto(tid, insn, SYS_set_tid_address, "set_tid_address", {s.clearTid});
  if (!newThread) return;  // the forked thread kept the rest
  if (!(s.altStack.flags & SS_DISABLE)) {
    AltStack a = s.altStack;
    a.flags &= ~SS_ONSTACK;  // says where the thread runs now; its registers will say it again
    a.flags &= SS_DISABLE | kSsAutodisarm;
    writeMemory(mem, scratch.addr(), &a, sizeof a);
    injectInto(tid, insn, SYS_sigaltstack, "sigaltstack", {scratch.addr(), 0});
  }
  char name[16] = {};
  std::memcpy(name, s.name.data(), std::min<size_t>(s.name.size(), 15));
  writeMemory(mem, scratch.addr(), name, sizeof name);
  injectInto(tid, insn, SYS_prctl, "prctl(PR_SET_NAME)", {PR_SET_NAME, scratch.addr()});
}

// Queues the signals `sigs` again in the copy: for thread tid of process tgid
// (rt_tgsigqueueinfo), or for the process (shared: rt_sigqueueinfo, injected in its
// leader tid), with their siginfo (a thread may give any si_code to signals it sends
// itself). The thread must block every signal meanwhile, or the next injection's
// step would take one. SIGSTOP and SIGKILL are not queued again (see the docs).
void queueSignals(pid_t tgid, pid_t tid, uint64_t insn, const std::vector<siginfo_t>& sigs, bool shared) {
  if (sigs.empty()) return;
  Scratch scratch(tgid, tid, getRegs(tid).rsp);
  for (const siginfo_t& si : sigs) {
    if (si.si_signo == SIGSTOP || si.si_signo == SIGKILL) continue;
    writeMemory(tgid, scratch.addr(), &si, sizeof si);
    if (shared)
      injectInto(tid, insn, SYS_rt_sigqueueinfo, "rt_sigqueueinfo", {uint64_t(tgid), uint64_t(si.si_signo), scratch.addr()});
    else
      injectInto(tid, insn, SYS_rt_tgsigqueueinfo, "rt_tgsigqueueinfo",
                 {uint64_t(tgid), uint64_t(tid), uint64_t(si.si_signo), scratch.addr()});
  }
}

}  // namespace

ThreadsCopy forkCopyThreads(Tracee& original, pid_t caller, uint64_t insn, const std::map<uint64_t, uint8_t>* sw) {
  if (original.gone) throw NativeError{ESRCH, "process " + std::to_string(original.pid) + " has ended"};
  const pid_t pid = caller;
  // the caller first
  std::vector<pid_t> tids{pid};
  bool ours = false;
  for (pid_t t : threadIds(original.pid)) {
    if (t == pid) ours = true;
    else tids.push_back(t);
  }
  if (!ours)
    throw NativeError{ESRCH, "thread " + std::to_string(pid) + " is not a thread of process " + std::to_string(original.pid)};
  std::vector<std::pair<pid_t, user_regs_struct>> entries;  // threads at a syscall's entry, as they were
  for (pid_t t : tids)
    if (checkCopyable(t)) entries.push_back({t, getRegs(t)});
  // The debugger's int3s are lifted for the whole copy, not around the fork only: a
  // thread at a syscall's entry goes back there through its `syscall` instruction,
  // which may hold one (and the copy must hold none).
  auto liftBreakpoints = [&](bool lifted) {
    if (sw)
      for (auto& [a, b] : *sw) original.write(a, lifted ? &b : (const uint8_t*)"\xcc", 1);
  };
  liftBreakpoints(true);
  auto backToEntries = [&] {
    try {
      for (auto& [t, r] : entries) returnToEntry(t, r);
    } catch (...) {
      liftBreakpoints(false);
      throw;
    }
    liftBreakpoints(false);
  };
  TraceePtr copy;
  std::vector<ThreadCopy> out;
  try {
    for (auto& [t, r] : entries) leaveEntry(t, r);
    std::vector<ThreadState> states;
    for (pid_t t : tids) states.push_back(capture(pid, t, insn));
    for (ThreadState& s : states)
      for (auto& [t, r] : entries)
        if (t == s.tid) {
          s.regs = r;
          s.atEntry = true;
        }
    std::vector<siginfo_t> shared = peekPending(pid, true);
    constexpr uint64_t kAll = ~uint64_t(0);
    // the fork is injected in pid: held as in capture(); the copy inherits the mask
    // held, and gets its own back at the end
    SignalHold holdCaller(pid, states[0].sigmask);
    copy = forkCopyCaller(original, pid, insn, nullptr);  // the int3s are lifted already
    holdCaller.release();
    const pid_t child = copy->pid;
    out.push_back({pid, child});
    setDroppedState(child, child, child, insn, states[0], false);
    for (size_t i = 1; i < states.size(); i++) {
      const ThreadState& s = states[i];
      pid_t t = cloneThread(child, insn);
      out.push_back({s.tid, t});
      setXState(t, s.xstate);
      setSigmask(t, kAll);
      setDroppedState(child, t, child, insn, s, true);
      queueSignals(child, t, insn, s.pending, false);
      if (s.atEntry)
        returnToEntry(t, s.regs);
      else
        setRegs(t, s.regs);
      setSigmask(t, s.sigmask);  // nothing runs in t after this
    }
    // last, as no injection into the leader follows: the signals fork does not copy
    setSigmask(child, kAll);
    queueSignals(child, child, insn, states[0].pending, false);
    queueSignals(child, child, insn, shared, true);
    if (states[0].atEntry) returnToEntry(child, states[0].regs);
    setSigmask(child, states[0].sigmask);
  } catch (...) {
    if (copy) copy->kill();
    try {
      backToEntries();
    } catch (...) {
    }
    throw;
  }
  backToEntries();
  return {copy, out};
}

}  // namespace rw
