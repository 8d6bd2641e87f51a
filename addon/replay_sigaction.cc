// rt_sigaction answered from the trace where running it changes nothing replay
// depends on: see replay_sigaction.h.
#include "replay_sigaction.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ptrace_ops.h"
#include "replay_session.h"

namespace rw {
namespace {

constexpr uint64_t kSigDfl = 0, kSigIgn = 1;
constexpr uint64_t kKernelSigsetSize = 8;
constexpr uint32_t kOldActionBytes = 32;  // the kernel's struct sigaction: handler, flags, restorer, mask
std::atomic<uint64_t> answeredCount{0};

// A set the kernel accepts (as it did when recorded, result 0) for a signal whose
// disposition matters only by its class.
bool plainSignal(uint64_t sig) { return sig >= 1 && sig <= 64 && sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD; }

uint64_t hexField(const char* text, const char* name, bool& found) {
  const char* at = std::strstr(text, name);
  if (!at) return 0;
  found = true;
  return std::strtoull(at + std::strlen(name), nullptr, 16);
}

// SigIgn and SigCgt of the (stopped) process: the class of every signal's action.
bool readClasses(pid_t pid, SigactionState& st) {
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%d/status", int(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  bool ign = false, cgt = false;
  st.ignored = hexField(buf, "\nSigIgn:", ign);
  st.caught = hexField(buf, "\nSigCgt:", cgt);
  st.classesKnown = ign && cgt;
  return st.classesKnown;
}

// Whether syscall record v stores the 32 bytes of the old action at `oldact` (its
// other writes, if any, are the syscall buffer's and shared memory's).
bool oldActionStored(const RecordView& v, uint64_t oldact) {
  uint32_t nwrites = v.get32(16);
  size_t at = kSyscallFixed;
  for (uint32_t i = 0; i < nwrites && at + 12 <= v.n; i++) {
    uint64_t addr = v.get64(at);
    uint32_t len = v.get32(at + 8);
    if (addr == oldact && len == kOldActionBytes) return true;
    at += 12 + size_t(len);
  }
  return false;
}

}  // namespace

bool sigactionLikelyAnswered(const RecordView& v, const ReplaySession& s) {
  uint64_t act = v.get64(28), oldact = v.get64(36);
  if (int64_t(v.get64(68)) != 0) return false;
  bool oldStored = oldact == 0 || oldActionStored(v, oldact);
  if (act == 0) return oldStored;
  const SigactionState& st = s.sigaction;
  uint64_t sig = v.get64(20);
  if (!oldStored || !st.oldActionsRecorded || !plainSignal(sig)) return false;
  // A caught signal's set changes its class (or installs another handler): it runs.
  // posix_spawn's child resets those first of all. Others go as the last of them did.
  if (st.classesKnown && (st.caught & (1ull << (sig - 1)))) return false;
  return st.lastSetAnswered;
}

bool sigactionAnswered(pid_t pid, ReplaySession& s, const RecordView& v, const uint64_t a[6]) {
  SigactionState& st = s.sigaction;
  const uint64_t sig = a[0], act = a[1], oldact = a[2];
  if (int64_t(v.get64(68)) != 0) return false;
  bool oldStored = oldact == 0 || oldActionStored(v, oldact);
  if (oldact != 0 && oldStored) st.oldActionsRecorded = true;
  if (act == 0) {
    if (oldStored) answeredCount++;
    return oldStored;  // a query: its answer is the recorded old action
  }
  bool answered = false, caughtNow = false;
  if (st.oldActionsRecorded && oldStored && plainSignal(sig) && a[3] == kKernelSigsetSize) {
    uint64_t handler = 0;
    // the new action's handler (the first field of the kernel's struct sigaction)
    if (readMemory(pid, act, &handler, sizeof handler) == sizeof handler && (handler == kSigDfl || handler == kSigIgn) &&
        (st.classesKnown || readClasses(pid, st))) {
      uint64_t bit = 1ull << (sig - 1);
      bool ignoredNow = st.ignored & bit;
      caughtNow = st.caught & bit;
      answered = !caughtNow && ignoredNow == (handler == kSigIgn);
    }
  }
  if (!caughtNow) st.lastSetAnswered = answered;  // (as sigactionLikelyAnswered judges)
  if (answered) answeredCount++;
  return answered;
}

void sigactionForget(ReplaySession& s) { s.sigaction.classesKnown = false; }

void sigactionRan(pid_t pid, ReplaySession& s, const uint64_t a[6], int64_t result) {
  SigactionState& st = s.sigaction;
  const uint64_t sig = a[0], act = a[1];
  if (act == 0 || result != 0 || !st.classesKnown) return;  // nothing changed
  uint64_t handler = 0;
  if (sig < 1 || sig > 64 || readMemory(pid, act, &handler, sizeof handler) != sizeof handler) {
    sigactionForget(s);
    return;
  }
  uint64_t bit = 1ull << (sig - 1);
  st.ignored = handler == kSigIgn ? st.ignored | bit : st.ignored & ~bit;
  st.caught = handler != kSigIgn && handler != kSigDfl ? st.caught | bit : st.caught & ~bit;
}

uint64_t sigactionsAnsweredCount() { return answeredCount.load(); }

}  // namespace rw
