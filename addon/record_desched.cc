// The desched event of a thread's syscall buffer: see record_desched.h.
#include "record_desched.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "memory_io.h"
#include "ptrace_ops.h"

namespace rw {
namespace {

// Header words (rwpreload.c's rw_header): the event's fd in the thread and whether the
// signal is blocked (written by the recorder only, never in the trace: 0 in replay),
// and whether the library may buffer calls that may block (an event memory write).
constexpr uint64_t kDeschedFdAt = 40, kDeschedBlockedAt = 44, kMayBlockAt = 48;
// The fd goes high, out of the way of the program's own numbers (which then match a
// native run's); below the usual soft limit of 1024.
constexpr int kDeschedFdFloor = 900;

bool isInterruption(int64_t rax) {
  return rax == -512 || rax == -513 || rax == -514 || rax == -516 || rax == -EINTR;
}

// Opens the event in the thread by calls of its own at the library's traced `syscall`
// instruction (the thread stands at a syscall's exit); its scratch memory is the
// buffer's record area, empty at this exit. Returns the fd in the thread, or -1.
int openInThread(pid_t pid, const Session& s) {
  uint64_t insn = s.tracedAfter - 2, scratch = s.bufAddr + kBufHeader;
  auto call = [&](long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3 = 0, uint64_t a4 = 0) {
    uint64_t args[6] = {a0, a1, a2, a3, a4, 0};
    return injectSyscall(pid, insn, nr, args);
  };
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.size = sizeof attr;
  attr.config = PERF_COUNT_SW_CONTEXT_SWITCHES;
  attr.sample_period = 1;  // every switch out: a blocked call is the first one
  attr.disabled = 1;       // armed by the library around a call only
  writeMemory(pid, scratch, &attr, sizeof attr);
  int64_t first = call(SYS_perf_event_open, scratch, 0 /* this thread */, uint64_t(-1), uint64_t(-1), PERF_FLAG_FD_CLOEXEC);
  if (first < 0) return -1;
  int64_t fd = call(SYS_fcntl, uint64_t(first), F_DUPFD_CLOEXEC, kDeschedFdFloor);
  call(SYS_close, uint64_t(first), 0, 0);
  if (fd < 0) return -1;
  struct f_owner_ex owner = {F_OWNER_TID, pid};
  writeMemory(pid, scratch, &owner, sizeof owner);
  bool ok = call(SYS_fcntl, uint64_t(fd), F_SETFL, O_ASYNC) == 0 &&
            call(SYS_fcntl, uint64_t(fd), F_SETOWN_EX, scratch) == 0 &&
            call(SYS_fcntl, uint64_t(fd), F_SETSIG, kDeschedSignal) == 0;
  if (!ok) {
    call(SYS_close, uint64_t(fd), 0, 0);
    return -1;
  }
  return int(fd);
}

// The recorder's own copy of the thread's fd, to disarm the event from outside.
std::shared_ptr<int> copyOfFd(pid_t tgid, int fd) {
  int pidfd = int(syscall(SYS_pidfd_open, tgid, 0));
  if (pidfd < 0) return nullptr;
  int copy = int(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  close(pidfd);
  if (copy < 0) return nullptr;
  return std::shared_ptr<int>(new int(copy), [](int* p) {
    close(*p);
    delete p;
  });
}

void writeWord(pid_t pid, uint64_t at, uint32_t v) { writeMemory(pid, at, &v, 4); }

}  // namespace

uint32_t deschedAtExit(pid_t pid, Session& s, RecordWriter& w) {
  if (!s.threaded || !s.bufAddr || !s.seccompMode) return 0;
  uint32_t n = 0;
  if (!s.deschedTried) {
    s.deschedTried = true;
    int fd = openInThread(pid, s);
    auto copy = fd >= 0 ? copyOfFd(s.tgid ? s.tgid : pid, fd) : nullptr;
    if (fd >= 0 && !copy) {
      uint64_t args[6] = {uint64_t(fd), 0, 0, 0, 0, 0};
      injectSyscall(pid, s.tracedAfter - 2, SYS_close, args);
    }
    if (copy) {
      s.deschedFd = copy;
      s.deschedTarget = fd;
      writeWord(pid, s.bufAddr + kDeschedFdAt, uint32_t(fd));
      uint32_t one = 1;
      writeMemory(pid, s.bufAddr + kMayBlockAt, &one, 4);
      w.u64(s.bufAddr + kMayBlockAt);
      w.u32(4);
      w.bytes(&one, 4);
      n++;
    }
  }
  if (!s.deschedFd) return n;
  uint64_t mask = 0;
  if (ptrace(PTRACE_GETSIGMASK, pid, (void*)sizeof mask, &mask) != 0) mask = ~0ull;
  uint32_t blocked = (mask >> (kDeschedSignal - 1)) & 1;
  if (blocked != s.deschedBlocked) {
    writeWord(pid, s.bufAddr + kDeschedBlockedAt, blocked);
    s.deschedBlocked = blocked;
  }
  return n;
}

int deschedStop(pid_t pid, Session& s, int sig, const siginfo_t& si) {
  if (!s.deschedFd) return 0;
  bool ours = sig == kDeschedSignal && si.si_code > 0 && si.si_fd == s.deschedTarget;
  user_regs_struct r = getRegs(pid);
  if (r.rip != s.untracedAfter) return ours ? 1 : 0;
  // Stopped at one of the library's untraced calls: any stop while the event is armed
  // is a switch out that signals again (each resume would stop once more), so it is
  // disarmed here. Stopped right after the arming ioctl, the library would then make
  // the call unarmed: the ioctl is made to fail (-EBUSY, not an interruption), and the
  // library makes the call traced instead.
  ioctl(*s.deschedFd, PERF_EVENT_IOC_DISABLE, 0);
  bool arming = r.orig_rax == SYS_ioctl && int(r.rdi) == s.deschedTarget && r.rsi == PERF_EVENT_IOC_ENABLE;
  if (arming) {
    r.rax = uint64_t(-EBUSY);
    setRegs(pid, r);
  }
  if (!ours) return 0;
  return !arming && int64_t(r.orig_rax) >= 0 && isInterruption(int64_t(r.rax)) ? 2 : 1;
}

void deschedForget(Session& s) {
  s.deschedFd.reset();
  s.deschedTried = false;
  s.deschedTarget = -1;
  s.deschedBlocked = 0;
}

void deschedSignalDelivered(pid_t pid, Session& s) {
  if (!s.deschedFd || s.deschedBlocked || !s.bufAddr) return;
  writeWord(pid, s.bufAddr + kDeschedBlockedAt, 1);
  s.deschedBlocked = 1;
}

void deschedForkedChild(pid_t child, uint64_t bufAddr, std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& writes) {
  uint8_t zero[12] = {};
  writeMemory(child, bufAddr + kDeschedFdAt, zero, sizeof zero);
  writes.push_back({bufAddr + kDeschedFdAt, std::vector<uint8_t>(zero, zero + sizeof zero)});
}

}  // namespace rw
