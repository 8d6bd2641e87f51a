// Every process of a recording: see record_processes.h.
#include "record_processes.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpuid_emulation.h"
#include "memory_io.h"
#include "record_buffer.h"
#include "record_desched.h"
#include "record_children.h"
#include "record_shared.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr uint64_t kCloneVm = 0x100, kCloneVfork = 0x4000, kCloneChildSettid = 0x01000000;
constexpr uint64_t kSigchld = 17;
constexpr int kNrClone = 56, kNrVfork = 58, kNrPrctl = 157, kPrSetTsc = 26, kPrTscEnable = 1;

// The clone flags of the fork-like call `parent` is in (fork and vfork as the
// flags glibc's clone equivalents would have).
uint64_t cloneFlags(const Session& parent) {
  int64_t nr = int64_t(parent.entry.orig_rax);
  if (nr == kNrClone) return parent.entry.rdi;
  if (nr == kNrVfork) return kCloneVm | kCloneVfork | kSigchld;
  return kSigchld;
}

// A process whose seccomp filter or trapping must not outlive the recorder's
// tracing: rdtsc and CPUID trapping are turned off through a `syscall`
// instruction of its own (the syscall buffer's untraced one, or the last one it
// used), so that it can run on under the helper.
void untrap(pid_t pid, Session& s) {
  uint64_t insn = s.seccompMode ? s.untracedAfter - 2 : s.syscallInsn;
  if (!insn) return;
  uint64_t args[6] = {uint64_t(kPrSetTsc), uint64_t(kPrTscEnable), 0, 0, 0, 0};
  injectSyscall(pid, insn, kNrPrctl, args);
  cpuidReleaseChild(s.cpuid, pid, false, insn);
}

}  // namespace

void noteStdio(pid_t root, Session& s) {
  for (int fd = 1; fd <= 2; fd++) {
    struct stat st;
    std::string path = "/proc/" + std::to_string(root) + "/fd/" + std::to_string(fd);
    if (stat(path.c_str(), &st) == 0) s.echoIds[fd - 1] = {uint64_t(st.st_dev), uint64_t(st.st_ino)};
  }
}

uint8_t echoFlag(pid_t pid, const Session& s, int64_t nr, uint64_t fd) {
  bool write = nr == 1 || nr == 18 || nr == 20 || nr == 296 || nr == 328;
  if (!write) return 0;
  struct stat st;
  std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(uint32_t(fd));
  if (stat(path.c_str(), &st) != 0) return 0;
  std::pair<uint64_t, uint64_t> id{uint64_t(st.st_dev), uint64_t(st.st_ino)};
  return id == s.echoIds[0] || id == s.echoIds[1] ? kSysEchoed : 0;
}

void resumeHeld(Recording& rec, const std::function<void(pid_t, Session&)>& onExitTurn) {
  auto resumeOne = [&](pid_t pid) {
    auto it = rec.procs.find(pid);
    if (it == rec.procs.end()) return;
    Session& s = it->second;
    if (s.exitPending) {
      onExitTurn(pid, s);
      s.exitPending = false;
    }
    int request = s.seccompMode && !s.inSyscall ? PTRACE_CONT : PTRACE_SYSCALL;
    s.resumedWithSignal = s.pendingSig != 0;
    if (s.pendingSig) deschedSignalDelivered(pid, s);
    // ESRCH: killed meanwhile (SIGKILL from another process); waitpid tells.
    if (ptrace(__ptrace_request(request), pid, nullptr, (void*)(long)s.pendingSig) != 0 && errno != ESRCH)
      throw NativeError{errno, "ptrace resume(" + std::to_string(pid) + ")"};
    s.pendingSig = 0;
  };
  for (pid_t pid : rec.held) {
    auto it = rec.procs.find(pid);
    // A thread whose process runs another thread's user code waits its turn.
    if (it != rec.procs.end() && mayResume(rec, pid, it->second)) resumeOne(pid);
  }
  rec.held.clear();
  for (pid_t pid : nextRunners(rec)) resumeOne(pid);
}

std::pair<pid_t, Stop> waitAnyRecorded(Recording& rec) {
  double start = nowMs();
  for (;;) {
    int status;
    for (auto& [pid, s] : rec.procs)
      if (takeStashed(pid, &status)) return {pid, decodeStatus(pid, status)};
    // With an asynchronous signal held back in seccomp mode, a process may be
    // blocked in a buffered (untraced) syscall that nothing would interrupt: the
    // signal is sent again every few milliseconds, so that the call stops and is
    // redone traced.
    bool poll = preemptDue(rec);  // a runner's slice ends while others are ready
    for (auto& [pid, s] : rec.procs) poll |= s.seccompMode && s.deferredSig && s.deferredSig < SIGRTMIN;
    pid_t r = waitpid(-1, &status, __WALL | __WNOTHREAD | (poll ? WNOHANG : 0));
    preemptWaited(rec);
    if (r > 0) {
      if (rec.procs.count(r)) return {r, decodeStatus(r, status)};
      if (!serveLiveChild(rec.procs[rec.root], r, status)) stashStatus(r, status);
      continue;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      throw NativeError{errno, "waitpid(-1) for the recorded processes"};
    }
    double t = nowMs();
    if (t - start > 5) {
      for (auto& [pid, s] : rec.procs) {
        if (!(s.seccompMode && s.deferredSig && s.deferredSig < SIGRTMIN) || t - s.lastResendMs <= 20) continue;
        syscall(SYS_tkill, pid, s.deferredSig);
        s.lastResendMs = t;
      }
    }
    timespec pause{0, 200000};
    nanosleep(&pause, nullptr);
  }
}

void addChildSettid(pid_t child, const Session& p, uint64_t flags, ChildWrites& writes) {
  if (!(flags & kCloneChildSettid) || !p.entry.r10) return;
  std::vector<uint8_t> tid(4);
  if (readMemory(child, p.entry.r10, tid.data(), 4) == 4) writes.push_back({p.entry.r10, tid});
}

void writeCloneEvent(RecordWriter& w, pid_t parent, pid_t child, uint32_t kind, uint64_t flags, const ChildWrites& writes) {
  size_t start = w.begin(kEvClone, 0, uint32_t(parent));
  w.u32(uint32_t(child));
  w.u32(kind);
  w.u64(flags);
  w.u32(uint32_t(writes.size()));
  for (auto& [addr, bytes] : writes) {
    w.u64(addr);
    w.u32(uint32_t(bytes.size()));
    w.bytes(bytes.data(), bytes.size());
  }
  w.end(start);
}

void adoptRecordedChild(Recording& rec, pid_t parent, pid_t child, int event, RecordWriter& w,
                        uint32_t& count) {
  Session& p = rec.procs[parent];
  uint64_t flags = cloneFlags(p);
  bool sharesMemory = flags & kCloneVm;
  Stop st = waitStop(child);  // its attach stop (SIGSTOP), or its death
  Session& c = rec.procs[child];
  c.view = p.view;
  c.seccompMode = p.seccompMode;
  c.untracedAfter = p.untracedAfter;
  c.procBufAddr = sharesMemory ? 0 : p.procBufAddr;
  c.procBufSize = p.procBufSize;
  c.tracedAfter = p.tracedAfter;
  c.syscallInsn = p.syscallInsn;
  c.mappedFiles = p.mappedFiles;
  c.writableMapped = p.writableMapped;
  c.parent = parent;
  c.orderStdio = true;
  c.shared = p.shared;  // the parent's copies of shared memory: the child's at its start
  c.echoIds[0] = p.echoIds[0];
  c.echoIds[1] = p.echoIds[1];
  c.cpuid = p.cpuid;

  // What the child's memory holds that its parent's does not: written here as the
  // clone event's child writes, applied to the replayed child the same way.
  ChildWrites writes;
  if (st.kind != Stop::kExited && st.kind != Stop::kKilled) {
    addChildSettid(child, p, flags, writes);
    if (p.bufAddr && !sharesMemory) {
      // A forked child has its own copy of the buffer, fork guard up: it lifts it,
      // and sends its writes to stdout and stderr the traced way from its start.
      c.bufAddr = p.bufAddr;
      c.bufCapacity = p.bufCapacity;
      c.flushed = p.flushed;
      uint32_t zero = 0;
      writeMemory(child, p.bufAddr + 12, &zero, 4);
      writes.push_back({p.bufAddr + 12, std::vector<uint8_t>(4, 0)});
      deschedForkedChild(child, p.bufAddr, writes);
    }
    if (p.procBufAddr && !sharesMemory) {
      uint32_t traced = tracedWanted(c);
      uint64_t at = p.procBufAddr + offsetof(BufHeader, traced);
      writeMemory(child, at, &traced, 4);
      writes.push_back({at, std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&traced), reinterpret_cast<uint8_t*>(&traced) + 4)});
    }
    // A child in the parent's memory (vfork, posix_spawn) leaves the buffer to it:
    // the guard keeps the library off it, every call of the child goes traced.
    if (p.watchingShared && !sharesMemory) watchSharedMemory(child, c);
    rec.held.insert(child);
  }
  writeCloneEvent(w, parent, child, uint32_t(event), flags, writes);
  count++;
  if (st.kind == Stop::kExited || st.kind == Stop::kKilled) {
    // Died before its first instruction (a SIGKILL to its group): its exit record.
    size_t at = w.begin(kEvExit, 0, uint32_t(child));
    w.u32(st.kind == Stop::kExited ? 0 : 1);
    w.u32(uint32_t(st.kind == Stop::kExited ? st.code : st.sig));
    w.end(at);
    count++;
    rec.procs.erase(child);
  }
}

bool holdStdioWrite(Recording& rec, pid_t pid) {
  if (rec.stdioWriter == 0 || rec.stdioWriter == pid || !rec.procs.count(rec.stdioWriter)) {
    rec.stdioWriter = pid;
    return false;
  }
  rec.held.erase(pid);
  rec.stdioQueue.push_back(pid);
  return true;
}

void endStdioWrite(Recording& rec, pid_t pid) {
  if (rec.stdioWriter != pid) return;
  rec.stdioWriter = 0;
  while (!rec.stdioQueue.empty()) {
    pid_t next = rec.stdioQueue.front();
    rec.stdioQueue.pop_front();
    if (!rec.procs.count(next)) continue;
    rec.stdioWriter = next;
    rec.held.insert(next);  // it stands at its write's entry: resumed into the call
    return;
  }
}

void beginRelease(Recording& rec) {
  for (auto& [pid, s] : rec.procs) {
    if (pid == rec.root) continue;
    rec.releasing.insert(pid);
    kill(pid, SIGSTOP);
  }
}

bool releaseAtStop(Recording& rec, pid_t pid, Session& s, const Stop& st) {
  if (st.kind != Stop::kSignal || st.sig != SIGSTOP) return false;
  siginfo_t si;
  if (ptrace(PTRACE_GETSIGINFO, pid, nullptr, &si) != 0) return false;  // a group-stop
  // Our SIGSTOP's delivery: the process stands between instructions (or in a call
  // the kernel will restart). It keeps the SIGSTOP, which rewind-babysit ends.
  untrap(pid, s);
  for (pid_t c : releaseChildren(s)) rec.released.push_back(c);
  if (ptrace(PTRACE_DETACH, pid, nullptr, (void*)(long)SIGSTOP) == 0) rec.released.push_back(pid);
  rec.releasing.erase(pid);
  rec.procs.erase(pid);
  endStdioWrite(rec, pid);
  return true;
}

}  // namespace rw
