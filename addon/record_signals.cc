// Signal-delivery stops while recording: see record_signals.h.
#include "record_signals.h"

#include <errno.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include <cstdio>
#include <cstring>

#include "cpuid_emulation.h"
#include "record_buffer.h"
#include "record_desched.h"
#include "tracer_thread.h"

namespace rw {
namespace {

bool sameRegs(const user_regs_struct& a, const user_regs_struct& b) { return std::memcmp(&a, &b, sizeof a) == 0; }


// rdtsc (0f 31) or rdtscp (0f 01 f9) at rip: its length, else 0.
uint32_t tscInsnAt(pid_t pid, uint64_t rip) {
  uint8_t insn[3] = {0, 0, 0};
  readMemory(pid, rip, insn, 3);
  if (insn[0] == 0x0f && insn[1] == 0x31) return 2;
  if (insn[0] == 0x0f && insn[1] == 0x01 && insn[2] == 0xf9) return 3;
  return 0;
}

void emulateTsc(pid_t pid, user_regs_struct r, uint32_t len, RecordWriter& w) {
  uint32_t aux = 0;
  uint64_t tsc = readTsc(len == 3 ? &aux : nullptr);
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
}

// Raised by the instruction at the stop: the kernel gives signals it generates for
// a faulting or trapping instruction a positive si_code (SI_KERNEL for int3 and
// general-protection faults, SYS_SECCOMP for the program's own seccomp traps).
// A kill() or sigqueue() of the same signal has si_code <= 0.
bool raisedByInstruction(int sig, const siginfo_t& si) {
  switch (sig) {
    case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGTRAP: case SIGSYS:
      return si.si_code > 0;
  }
  return false;
}

// A buffered call that a signal interrupted: recorded as returning kBufInterrupted
// (the library then makes it again, traced) and the signal is held back for that
// traced call, which gets it as an ordinary call would. Returns false if the stop
// is not that case.
bool interruptedBufferedCall(pid_t pid, Session& s, const Stop& st, const siginfo_t& si,
                             const std::vector<Row>& table, RecordWriter& w, uint32_t& count, bool holdBack = true) {
  if (!s.seccompMode || !s.bufAddr) return false;
  user_regs_struct r = getRegs(pid);
  int64_t rax = int64_t(r.rax), onr = int64_t(r.orig_rax);
  bool interrupted = rax == -512 || rax == -513 || rax == -514 || rax == -516 || rax == -EINTR;
  if (r.rip != s.untracedAfter || onr < 0 || !interrupted) return false;
  if (onr >= int64_t(table.size()) || table[size_t(onr)].action == kUnknown)
    throw NativeError{EPROTO, "interrupted buffered syscall " + std::to_string(onr) + " is not in the table"};
  const Row& row = table[size_t(onr)];
  uint64_t a[6];
  args6(r, a);
  uint32_t checkLen = 0, checkCrc = 0;
  if (row.check != kCheckNone) {
    std::vector<uint8_t> in = gatherInput(pid, row.check, a, 1ull << 30);
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
  count++;
  r.rax = uint64_t(kBufInterrupted);
  setRegs(pid, r);
  if (holdBack && !s.deferredSig) {
    s.deferredSig = st.sig;
    s.deferredInfo = si;
  }
  return true;
}

}  // namespace

void onSignalStop(pid_t pid, Session& s, const Stop& st, const std::vector<Row>& table, RecordWriter& w,
                  uint32_t& count) {
  flushBuffer(pid, s, w, count);
  const bool chainArmed = s.chainArmed;
  s.chainArmed = false;
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  if (ptrace(PTRACE_GETSIGINFO, pid, nullptr, &si) != 0) {
    s.atExit = false;  // a group-stop: nothing to deliver
    return;
  }
  // The desched event's signal (record_desched.h): never the program's.
  if (int d = deschedStop(pid, s, st.sig, si)) {
    if (d == 2) interruptedBufferedCall(pid, s, st, si, table, w, count, false);
    s.atExit = false;
    return;
  }
  if (interruptedBufferedCall(pid, s, st, si, table, w, count)) {
    s.atExit = false;
    return;
  }
  if (s.deferredSig && st.sig == s.deferredSig && s.atExit) {
    si = s.deferredInfo;
    ptrace(PTRACE_SETSIGINFO, pid, nullptr, &si);
    s.deferredSig = 0;
  }
  user_regs_struct r = getRegs(pid);
  const bool chained = chainArmed && ((s.chainPending >> (st.sig - 1) & 1) || sameRegs(r, s.chainRegs));
  if (st.sig == SIGSEGV && si.si_code == SI_KERNEL && s.view.tscMode != 2 /* PR_TSC_SIGSEGV */) {
    // The recorder's own rdtsc trap (the program did not ask for one).
    if (uint32_t len = tscInsnAt(pid, r.rip)) {
      emulateTsc(pid, r, len, w);
      count++;
      s.atExit = false;
      return;
    }
  }
  // The recorder's own CPUID trap (a patched site's SIGILL, a faulting CPUID's SIGSEGV).
  if (cpuidRecordTrap(pid, s.cpuid, st.sig, si, w)) {
    count++;
    s.atExit = false;
    return;
  }
  uint32_t how;
  if (raisedByInstruction(st.sig, si)) {
    how = kSigSync;
  } else if ((s.atExit && sameRegs(r, s.exitRegs)) || chained) {
    how = kSigAtSyscallExit;
  } else if (st.sig != SIGSTOP && (!s.deferredSig || st.sig == s.deferredSig)) {
    // Arrived while the program computed: delivered there, once the point has a
    // name the replay can find it by (record_preempt.h, docs/timeline.md). A signal
    // held back before (a point that could not be named, the recorder's resend of
    // it) is placed here, with the siginfo it first came with.
    s.pointSig = st.sig;
    s.pointInfo = si;
    if (st.sig == s.deferredSig) {
      s.pointInfo = s.deferredInfo;
      s.deferredSig = 0;
    }
    s.atExit = false;
    return;
  } else {
    // Another one while one is held back (or a SIGSTOP): held back to the next
    // syscall's return.
    if (!s.deferredSig) {
      s.deferredSig = st.sig;
      s.deferredInfo = si;
    }
    s.atExit = false;
    return;
  }
  size_t start = w.begin(kEvSignal, 0, uint32_t(pid));
  w.u32(uint32_t(st.sig));
  w.u32(how);
  w.bytes(&si, kSiginfoSize);
  w.end(start);
  count++;
  s.pendingSig = st.sig;
  s.atExit = false;
  // Delivering it sets up the handler's frame; every signal still pending then is
  // delivered next, before the program runs an instruction.
  s.chainArmed = true;
  s.chainPending = pendingSignals(pid);
  s.chainRegs = r;
}

}  // namespace rw
