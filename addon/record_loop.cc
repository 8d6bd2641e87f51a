#include "record_loop.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <time.h>

#include <cstring>
#include <map>
#include <set>
#include <sys/wait.h>

#include "cpuid_emulation.h"
#include "event_format.h"
#include "memory_io.h"
#include "ptrace_ops.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr uint64_t kCloneThread = 0x00010000;
constexpr double kHandOverMs = 5;
constexpr int kNrClone = 56, kNrIoctl = 16, kNrPrctl = 157, kNrSeccomp = 317;
constexpr int kNrFork = 57, kNrVfork = 58;

// The syscall buffer (addon/preload/rwpreload.c, docs/syscallbuf.md).
constexpr uint64_t kBufMagic = 0x52574e44;        // prctl option the preload library registers with
constexpr int64_t kBufMagicOk = 0x52574e4f4bLL;   // the recorder's answer
constexpr int64_t kBufInterrupted = -0x5257000000LL;  // result of a buffered call a signal interrupted
constexpr uint64_t kBufHeader = 64;               // records start after the header
struct BufHeader {
  uint64_t used;
  uint32_t busy, disabled;
  uint64_t capacity;
};

struct Session {
  bool inSyscall = false;
  user_regs_struct entry{};
  int pendingSig = 0;
  bool atExit = false;          // the last stop was a syscall exit, nothing ran since
  user_regs_struct exitRegs{};
  bool annul = false;
  int64_t forcedResult = 0;
  uint32_t checkLen = 0, checkCrc = 0;
  bool generic = false;
  std::vector<Region> snapshot;
  bool execed = false;
  int deferredSig = 0;  // asynchronous signal held back until the next syscall
  siginfo_t deferredInfo{};
  // Syscall buffer: registered by the preload library; seccomp mode once its
  // filter is installed (resume with PTRACE_CONT, PTRACE_EVENT_SECCOMP is the entry).
  uint64_t bufAddr = 0, bufCapacity = 0, untracedAfter = 0, tracedAfter = 0;
  uint64_t flushed = 0;  // bytes of records already copied into the trace
  bool seccompMode = false;
  bool clearDisabled = false;  // set around a fork-like call: cleared at its exit
  std::set<pid_t> children;    // forked children: they inherit the filter, so they stay traced
  std::set<pid_t> newChildren; // children whose first (SIGSTOP) stop is still to come
  double lastResendMs = 0;
};

std::map<pid_t, Session> sessions;

void args6(const user_regs_struct& r, uint64_t a[6]) {
  a[0] = r.rdi; a[1] = r.rsi; a[2] = r.rdx; a[3] = r.r10; a[4] = r.r8; a[5] = r.r9;
}

bool sameRegs(const user_regs_struct& a, const user_regs_struct& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

const Row* rowFor(const std::vector<Row>& table, int64_t nr) {
  if (nr < 0 || nr >= int64_t(table.size())) return nullptr;
  const Row* r = &table[size_t(nr)];
  return r->action == kUnknown ? nullptr : r;
}

// Returns a non-empty reason when the call cannot be recorded.
std::string atEntry(pid_t pid, Session& s, const Row& row, int64_t nr, const uint64_t a[6]) {
  s.annul = false;
  s.generic = row.action == kGeneric;
  if (row.action == kUnsupported) return "it cannot be replayed faithfully yet";
  if (row.action == kFork && nr == kNrClone && (a[0] & kCloneThread))
    return "it creates a thread, and multithreaded programs are not supported yet";
  if (row.action == kRefuse) {
    s.annul = true;
    s.forcedResult = -ENOSYS;
    user_regs_struct r = s.entry;
    r.orig_rax = -1;
    setRegs(pid, r);
  }
  if (nr == kNrIoctl && ioctlNeedsGeneric(a[1])) s.generic = true;
  if (s.generic) s.snapshot = snapshotWritable(pid);
  s.checkLen = s.checkCrc = 0;
  if (row.check != kCheckNone) {
    std::vector<uint8_t> in = gatherInput(pid, row.check, a, 1ull << 30);
    s.checkLen = uint32_t(in.size());
    s.checkCrc = crc32(0, in.data(), in.size());
  }
  return "";
}

void detachForkChild(pid_t pid, pid_t child, bool sharesMemory, Session& s) {
  Stop st = waitStop(child);
  if (st.kind == Stop::kExited || st.kind == Stop::kKilled) return;
  if (s.seccompMode) {
    // The child inherited the seccomp filter, under which an untraced process gets
    // ENOSYS for every syscall: it stays traced and is resumed at each stop. Its
    // rdtsc trapping is turned off through the library's untraced instruction.
    uint64_t args[6] = {26 /* PR_SET_TSC */, 1 /* PR_TSC_ENABLE */, 0, 0, 0, 0};
    injectSyscall(child, s.untracedAfter - 2, 157 /* prctl */, args);
    cpuidReleaseChild(pid, child, sharesMemory, s.untracedAfter - 2);
    s.children.insert(child);
    ptrace(PTRACE_CONT, child, nullptr, nullptr);
    return;
  }
  // The child stands right after its fork syscall: use that instruction to turn
  // rdtsc trapping off, then let it run untraced.
  user_regs_struct r = getRegs(child);
  uint8_t insn[2] = {0, 0};
  readMemory(child, r.rip - 2, insn, 2);
  if (insn[0] == 0x0f && insn[1] == 0x05) {
    uint64_t args[6] = {26 /* PR_SET_TSC */, 1 /* PR_TSC_ENABLE */, 0, 0, 0, 0};
    injectSyscall(child, r.rip - 2, 157 /* prctl */, args);
    cpuidReleaseChild(pid, child, sharesMemory, r.rip - 2);
  }
  ptrace(PTRACE_DETACH, child, nullptr, nullptr);
}


// Copies the records the preload library completed since the last flush into the
// trace, as ordinary syscall events. Reads the tracee's memory only.
void flushBuffer(pid_t pid, Session& s, RecordWriter& w, uint32_t& count) {
  if (!s.bufAddr) return;
  BufHeader h{};
  if (readMemory(pid, s.bufAddr, &h, sizeof h) != sizeof h) return;
  if (h.used > s.bufCapacity) throw NativeError{EPROTO, "syscall buffer header is corrupt"};
  if (h.used <= s.flushed) return;
  std::vector<uint8_t> bytes(h.used - s.flushed);
  if (readMemory(pid, s.bufAddr + kBufHeader + s.flushed, bytes.data(), bytes.size()) != bytes.size())
    throw NativeError{EPROTO, "cannot read the syscall buffer"};
  size_t at = 0;
  while (at < bytes.size()) {
    RecordView v{bytes.data() + at, 0};
    if (bytes.size() - at < kSyscallFixed) throw NativeError{EPROTO, "syscall buffer record is truncated"};
    uint32_t size = v.size();
    if (size < kSyscallFixed || size > bytes.size() - at || v.kind() != kEvSyscall)
      throw NativeError{EPROTO, "syscall buffer record is corrupt"};
    uint32_t tid = uint32_t(pid);
    std::memcpy(bytes.data() + at + 8, &tid, 4);
    w.bytes(bytes.data() + at, size);
    count++;
    at += size;
  }
  s.flushed = h.used;
}

// At a traced syscall's exit: empties the buffer (unless a record is being
// written: a signal handler's syscall inside the library) and lifts the fork
// guard. Returns the bytes written into the tracee, for the event's writes, so
// that replay makes the same change at the same point.
bool resetBuffer(pid_t pid, Session& s, BufHeader& out) {
  if (!s.bufAddr) return false;
  BufHeader h{};
  if (readMemory(pid, s.bufAddr, &h, sizeof h) != sizeof h) return false;
  BufHeader n = h;
  if (!h.busy) {
    n.used = 0;
    s.flushed = 0;
  }
  if (s.clearDisabled) n.disabled = 0;
  s.clearDisabled = false;
  if (n.used == h.used && n.disabled == h.disabled) return false;
  writeMemory(pid, s.bufAddr, &n, 16);
  out = n;
  return true;
}

void serviceChild(Session& s, pid_t c, int status);

bool isForkLike(int64_t nr) { return nr == kNrClone || nr == kNrFork || nr == kNrVfork; }

// A traced child (seccomp mode) stopped: keep it running, untouched by the recording.
void serviceChild(Session& s, pid_t c, int status) {
  Stop st = decodeStatus(c, status);
  int sig = 0;
  switch (st.kind) {
    case Stop::kExited:
    case Stop::kKilled:
      s.children.erase(c);
      s.newChildren.erase(c);
      return;
    case Stop::kEvent:
      if (st.event == PTRACE_EVENT_FORK || st.event == PTRACE_EVENT_VFORK || st.event == PTRACE_EVENT_CLONE) {
        unsigned long child = 0;
        ptrace(PTRACE_GETEVENTMSG, c, nullptr, &child);
        if (child) {
          s.children.insert(pid_t(child));
          s.newChildren.insert(pid_t(child));
          // Its first stop may have been reaped before this event: serve it now.
          int early;
          if (takeStashed(pid_t(child), &early)) serviceChild(s, pid_t(child), early);
        }
      }
      break;
    case Stop::kSyscall:
      break;
    case Stop::kSignal: {
      siginfo_t si;
      if (s.newChildren.count(c) && st.sig == SIGSTOP) {
        s.newChildren.erase(c);  // the attach stop
      } else if (ptrace(PTRACE_GETSIGINFO, c, nullptr, &si) == 0) {
        sig = st.sig;
      }  // else a group-stop: resume
      break;
    }
  }
  ptrace(PTRACE_CONT, c, nullptr, (void*)(long)sig);
}

double nowMs() {
  timespec t;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// Waits for the recorded process, serving its traced children meanwhile. With an
// asynchronous signal held back in seccomp mode, the program may be blocked in a
// buffered (untraced) syscall that nothing would interrupt: the signal is sent
// again every few milliseconds, so that the call stops and is redone traced.
Stop waitRecorded(pid_t pid, Session& s) {
  bool poll = s.seccompMode && s.deferredSig && s.deferredSig < SIGRTMIN;
  if (s.children.empty() && !poll) return waitStop(pid);
  double start = nowMs();
  for (;;) {
    int status;
    if (takeStashed(pid, &status)) return decodeStatus(pid, status);
    pid_t r = waitpid(s.children.empty() ? pid : -1, &status, __WALL | __WNOTHREAD | (poll ? WNOHANG : 0));
    if (r == pid) return decodeStatus(pid, status);
    if (r > 0) {
      if (s.children.count(r)) serviceChild(s, r, status);
      else stashStatus(r, status);
      continue;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      throw NativeError{errno, "waitpid(" + std::to_string(pid) + ")"};
    }
    double t = nowMs();
    if (t - start > 5 && t - s.lastResendMs > 20) {
      syscall(SYS_tgkill, pid, pid, s.deferredSig);
      s.lastResendMs = t;
    }
    timespec pause{0, 200000};
    nanosleep(&pause, nullptr);
  }
}

void appendSyscall(pid_t pid, Session& s, const Row& row, int64_t nr, int64_t result, RecordWriter& w) {
  uint64_t a[6];
  args6(s.entry, a);
  uint8_t flags = (s.annul ? kSysAnnulledInRecord : 0) | (s.generic ? kSysGenericCapture : 0);
  size_t start = w.begin(kEvSyscall, flags, uint32_t(pid));
  w.u32(uint32_t(nr));
  size_t nwritesAt = w.size();
  w.u32(0);
  for (int i = 0; i < 6; i++) w.u64(a[i]);
  w.u64(uint64_t(result));
  w.u32(s.checkLen);
  w.u32(s.checkCrc);
  uint32_t n = s.generic ? emitDifferences(pid, s.snapshot, w) : captureOutputs(pid, row, a, result, w);
  BufHeader h;
  if (row.action != kExit && !s.execed && resetBuffer(pid, s, h)) {
    w.u64(s.bufAddr);
    w.u32(16);
    w.bytes(&h, 16);
    n++;
  }
  w.patchU32(nwritesAt, n);
  w.end(start);
  s.snapshot.clear();
}

bool emulateTsc(pid_t pid, RecordWriter& w) {
  user_regs_struct r = getRegs(pid);
  uint8_t insn[3] = {0, 0, 0};
  readMemory(pid, r.rip, insn, 3);
  uint32_t len = 0, aux = 0;
  uint64_t tsc;
  if (insn[0] == 0x0f && insn[1] == 0x31) {
    len = 2;
    tsc = readTsc(nullptr);
  } else if (insn[0] == 0x0f && insn[1] == 0x01 && insn[2] == 0xf9) {
    len = 3;
    tsc = readTsc(&aux);
  } else {
    return false;
  }
  r.rax = tsc & 0xffffffffu;
  r.rdx = tsc >> 32;
  if (len == 3) r.rcx = aux;
  r.rip += len;
  setRegs(pid, r);
  size_t start = w.begin(kEvRdtsc, 0, uint32_t(pid));
  w.u64(tsc);
  w.u32(aux);
  w.u32(len);
  w.end(start);
  return true;
}

}  // namespace

void recordForget(pid_t pid) { sessions.erase(pid); }

LoopResult recordRun(pid_t pid, const std::vector<Row>& table, size_t maxBytes) {
  Session& s = sessions[pid];
  LoopResult out;
  RecordWriter w(out.events);
  // Raw syscalls: the vDSO clocks read the TSC, which traps on this thread.
  timespec t0;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t0);
  auto elapsedMs = [&] {
    timespec t;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0.tv_sec) * 1e3 + (t.tv_nsec - t0.tv_nsec) / 1e6;
  };
  auto count = [&] { out.eventCount++; };

  while (out.events.size() < maxBytes) {
    resume(pid, s.seccompMode && !s.inSyscall ? PTRACE_CONT : PTRACE_SYSCALL, s.pendingSig);
    s.pendingSig = 0;
    Stop st = waitRecorded(pid, s);

    if (st.kind == Stop::kExited || st.kind == Stop::kKilled) {
      if (s.inSyscall && (table[size_t(s.entry.orig_rax) % table.size()].action == kExit)) {
        // exit/exit_group never return: record the call so replay checks its arguments.
        appendSyscall(pid, s, table[size_t(s.entry.orig_rax)], int64_t(s.entry.orig_rax), 0, w);
        count();
      }
      size_t start = w.begin(kEvExit, 0, uint32_t(pid));
      w.u32(st.kind == Stop::kExited ? 0 : 1);
      w.u32(uint32_t(st.kind == Stop::kExited ? st.code : st.sig));
      w.end(start);
      count();
      // Traced children (seccomp mode) are served until they end too.
      while (!s.children.empty()) {
        int status;
        pid_t r = waitpid(-1, &status, __WALL | __WNOTHREAD);
        if (r < 0) {
          if (errno == EINTR) continue;
          break;
        }
        if (s.children.count(r)) serviceChild(s, r, status);
        else stashStatus(r, status);
      }
      out.stop.reason = st.kind == Stop::kExited ? "exited" : "killed";
      out.stop.num(st.kind == Stop::kExited ? "code" : "signal", st.kind == Stop::kExited ? st.code : st.sig);
      sessions.erase(pid);
      return out;
    }

    bool seccompEntry = st.kind == Stop::kEvent && st.event == PTRACE_EVENT_SECCOMP;
    if (st.kind == Stop::kSyscall || seccompEntry) {
      user_regs_struct r = getRegs(pid);
      int64_t nr = int64_t(r.orig_rax);
      if (!s.inSyscall) {
        flushBuffer(pid, s, w, out.eventCount);
        s.entry = r;
        s.atExit = false;
        uint64_t a[6];
        args6(r, a);
        if (nr == kNrPrctl && a[0] == kBufMagic) {
          // The preload library registers its buffer: refused once in seccomp mode
          // (a second filter after an exec would trace the library's calls too).
          bool ok = !s.seccompMode && !s.bufAddr && a[2] > kBufHeader;
          if (ok) {
            s.bufAddr = a[1];
            s.bufCapacity = a[2] - kBufHeader;
            s.untracedAfter = a[3];
            s.tracedAfter = a[4];
            s.flushed = 0;
          }
          s.annul = true;
          s.generic = false;
          s.checkLen = s.checkCrc = 0;
          s.forcedResult = ok ? kBufMagicOk : -EINVAL;
          r.orig_rax = uint64_t(-1);
          setRegs(pid, r);
          s.inSyscall = true;
          continue;
        }
        const Row* row = rowFor(table, nr);
        if (!row) {
          out.stop.reason = "unknown-syscall";
          out.stop.num("nr", nr);
          for (int i = 0; i < 6; i++) out.stop.big(("arg" + std::to_string(i)).c_str(), a[i]);
          return out;
        }
        std::string why = atEntry(pid, s, *row, nr, a);
        if (!why.empty()) {
          out.stop.reason = "unsupported";
          out.stop.num("nr", nr);
          out.stop.str("why", why);
          return out;
        }
        s.inSyscall = true;
        if (s.bufAddr && isForkLike(nr)) {
          // A vfork child shares the buffer: keep the library off it until the call returns.
          uint32_t one = 1;
          writeMemory(pid, s.bufAddr + 12, &one, 4);
          s.clearDisabled = true;
        }
        if (s.deferredSig) {
          // queued now, delivered when the call returns (a seccomp stop cannot inject)
          if (seccompEntry) syscall(SYS_tgkill, pid, pid, s.deferredSig);
          else s.pendingSig = s.deferredSig;
        }
        // This call may block for long: hand what is encoded to the trace writer
        // first, so a recorder killed meanwhile loses at most a few milliseconds.
        if (out.events.size() && elapsedMs() > kHandOverMs) break;
        continue;
      }
      // Syscall exit.
      s.inSyscall = false;
      nr = int64_t(s.entry.orig_rax);
      if (s.annul) {
        r.rax = uint64_t(s.forcedResult);
        setRegs(pid, r);
      }
      const Row& row = table[size_t(nr)];
      int64_t result = int64_t(r.rax);
      appendSyscall(pid, s, row, nr, result, w);
      count();
      s.atExit = true;
      s.exitRegs = r;
      if (nr == kNrSeccomp && !s.seccompMode && s.bufAddr && s.entry.rip == s.tracedAfter && result == 0) {
        // The preload library's filter is in: from now on only traced calls stop.
        long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL | PTRACE_O_TRACEFORK |
                    PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACESECCOMP;
        if (ptrace(PTRACE_SETOPTIONS, pid, nullptr, (void*)opts) != 0)
          throw NativeError{errno, "ptrace(PTRACE_SETOPTIONS, PTRACE_O_TRACESECCOMP)"};
        s.seccompMode = true;
      }
      if (row.action == kExec && s.execed) {
        s.bufAddr = 0;  // gone with the old image; the filter stays (all calls traced)
        s.flushed = 0;
        s.clearDisabled = false;
        s.execed = false;
        forgetMemoryFd(pid);
        out.stop.reason = "exec";
        return out;
      }
      constexpr uint64_t kMapAnonymous = 0x20;
      if (row.action == kMmap && !(s.entry.r10 & kMapAnonymous) && (result < 0 ? result < -4095 : true)) {
        out.stop.reason = "mmap-file";
        out.stop.num("fd", int64_t(int32_t(s.entry.r8)));
        out.stop.big("addr", uint64_t(result));
        out.stop.big("length", s.entry.rsi);
        out.stop.big("offset", s.entry.r9);
        out.stop.num("prot", int64_t(s.entry.rdx));
        out.stop.num("flags", int64_t(s.entry.r10));
        return out;
      }
      continue;
    }

    if (st.kind == Stop::kEvent) {
      if (st.event == PTRACE_EVENT_EXEC) {
        s.execed = true;
        forgetMemoryFd(pid);
      } else if (st.event == PTRACE_EVENT_FORK || st.event == PTRACE_EVENT_VFORK ||
                 st.event == PTRACE_EVENT_CLONE) {
        unsigned long child = 0;
        ptrace(PTRACE_GETEVENTMSG, pid, nullptr, &child);
        if (child) detachForkChild(pid, pid_t(child), st.event == PTRACE_EVENT_VFORK, s);
      }
      continue;  // group-stop and other event stops: resume
    }

    // Signal-delivery stop.
    flushBuffer(pid, s, w, out.eventCount);
    siginfo_t si;
    std::memset(&si, 0, sizeof si);
    ptrace(PTRACE_GETSIGINFO, pid, nullptr, &si);
    if (s.seccompMode && s.bufAddr) {
      user_regs_struct r = getRegs(pid);
      int64_t rax = int64_t(r.rax), onr = int64_t(r.orig_rax);
      bool interrupted = rax == -512 || rax == -513 || rax == -514 || rax == -516 || rax == -EINTR;
      if (r.rip == s.untracedAfter && onr >= 0 && interrupted) {
        // A buffered call was interrupted: record it as returning kBufInterrupted
        // (the library then makes it again, traced) and hold the signal back for
        // that traced call, which gets it as an ordinary call would.
        const Row* row = rowFor(table, onr);
        if (!row) throw NativeError{EPROTO, "interrupted buffered syscall " + std::to_string(onr) + " is not in the table"};
        uint64_t a[6];
        args6(r, a);
        uint32_t checkLen = 0, checkCrc = 0;
        if (row->check != kCheckNone) {
          std::vector<uint8_t> in = gatherInput(pid, row->check, a, 1ull << 30);
          checkLen = uint32_t(in.size());
          checkCrc = crc32(0, in.data(), in.size());
        }
        size_t start = w.begin(kEvSyscall, 0, uint32_t(pid));
        w.u32(uint32_t(onr));
        w.u32(0);
        for (int i = 0; i < 6; i++) w.u64(a[i]);
        w.u64(uint64_t(kBufInterrupted));
        w.u32(checkLen);
        w.u32(checkCrc);
        w.end(start);
        count();
        r.rax = uint64_t(kBufInterrupted);
        setRegs(pid, r);
        if (!s.deferredSig) {
          s.deferredSig = st.sig;
          s.deferredInfo = si;
        }
        s.atExit = false;
        continue;
      }
    }
    if (s.deferredSig && st.sig == s.deferredSig && s.atExit) {
      si = s.deferredInfo;
      ptrace(PTRACE_SETSIGINFO, pid, nullptr, &si);
      s.deferredSig = 0;
    } else if ((st.sig == SIGSEGV && si.si_code == SI_KERNEL && emulateTsc(pid, w)) ||
               cpuidRecordTrap(pid, st.sig, si, w)) {
      count();
      s.atExit = false;
      continue;
    }
    uint32_t how;
    bool fault = (st.sig == SIGSEGV || st.sig == SIGBUS || st.sig == SIGILL || st.sig == SIGFPE ||
                  st.sig == SIGTRAP) && si.si_code > 0 && si.si_code < SI_KERNEL;
    if (fault) {
      how = kSigSync;
    } else if (s.atExit && sameRegs(getRegs(pid), s.exitRegs)) {
      how = kSigAtSyscallExit;
    } else {
      // Arrived while the program computed: there is no way yet to find that
      // point again in replay, so it is held back and delivered when the next
      // syscall returns (see docs/timeline.md).
      if (!s.deferredSig) {
        s.deferredSig = st.sig;
        s.deferredInfo = si;
      }
      s.atExit = false;
      continue;
    }
    size_t start = w.begin(kEvSignal, 0, uint32_t(pid));
    w.u32(uint32_t(st.sig));
    w.u32(how);
    w.bytes(&si, kSiginfoSize);
    w.end(start);
    count();
    s.pendingSig = st.sig;
    s.atExit = false;
  }
  out.stop.reason = "batch";
  return out;
}

}  // namespace rw
