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

#include "event_format.h"
#include "memory_io.h"
#include "ptrace_ops.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr uint64_t kCloneThread = 0x00010000;
constexpr double kHandOverMs = 5;
constexpr int kNrClone = 56, kNrIoctl = 16;

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

void detachForkChild(pid_t child) {
  Stop st = waitStop(child);
  if (st.kind == Stop::kExited || st.kind == Stop::kKilled) return;
  // The child stands right after its fork syscall: use that instruction to turn
  // rdtsc trapping off, then let it run untraced.
  user_regs_struct r = getRegs(child);
  uint8_t insn[2] = {0, 0};
  readMemory(child, r.rip - 2, insn, 2);
  if (insn[0] == 0x0f && insn[1] == 0x05) {
    uint64_t args[6] = {26 /* PR_SET_TSC */, 1 /* PR_TSC_ENABLE */, 0, 0, 0, 0};
    injectSyscall(child, r.rip - 2, 157 /* prctl */, args);
  }
  ptrace(PTRACE_DETACH, child, nullptr, nullptr);
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
    resume(pid, PTRACE_SYSCALL, s.pendingSig);
    s.pendingSig = 0;
    Stop st = waitStop(pid);

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
      out.stop.reason = st.kind == Stop::kExited ? "exited" : "killed";
      out.stop.num(st.kind == Stop::kExited ? "code" : "signal", st.kind == Stop::kExited ? st.code : st.sig);
      sessions.erase(pid);
      return out;
    }

    if (st.kind == Stop::kSyscall) {
      user_regs_struct r = getRegs(pid);
      int64_t nr = int64_t(r.orig_rax);
      if (!s.inSyscall) {
        s.entry = r;
        s.atExit = false;
        const Row* row = rowFor(table, nr);
        uint64_t a[6];
        args6(r, a);
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
        if (s.deferredSig) s.pendingSig = s.deferredSig;  // queued now, delivered when the call returns
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
      if (row.action == kExec && s.execed) {
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
        if (child) detachForkChild(pid_t(child));
      }
      continue;  // group-stop and other event stops: resume
    }

    // Signal-delivery stop.
    siginfo_t si;
    std::memset(&si, 0, sizeof si);
    ptrace(PTRACE_GETSIGINFO, pid, nullptr, &si);
    if (s.deferredSig && st.sig == s.deferredSig && s.atExit) {
      si = s.deferredInfo;
      ptrace(PTRACE_SETSIGINFO, pid, nullptr, &si);
      s.deferredSig = 0;
    } else if (st.sig == SIGSEGV && si.si_code == SI_KERNEL && emulateTsc(pid, w)) {
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
