// What the program sees of the recorder: see record_views.h.
#include "record_views.h"

#include <errno.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ptrace_ops.h"

namespace rw {
namespace {

constexpr int kNrClone = 56, kNrPtrace = 101, kNrPersonality = 135, kNrPrctl = 157, kNrArchPrctl = 158, kNrSeccomp = 317;
constexpr uint64_t kArchGetCpuid = 0x1011, kArchSetCpuid = 0x1012;
constexpr uint64_t kCloneUntraced = 0x00800000;
constexpr uint64_t kPtraceAttach = 16, kPtraceSeize = 0x4206;
constexpr uint64_t kQueryPersona = 0xffffffff;
enum : uint64_t {
  kSetPdeathsig = 1, kGetPdeathsig = 2, kGetSeccomp = 21, kSetSeccomp = 22, kGetTsc = 25, kSetTsc = 26,
  kSetNoNewPrivs = 38, kGetNoNewPrivs = 39, kSetSyscallUserDispatch = 59,
};

bool isError(int64_t v) { return v < 0 && v >= -4095; }

void annul(pid_t pid, Session& s, int64_t result) {
  s.annul = true;
  s.forcedResult = result;
  user_regs_struct r = s.entry;
  r.orig_rax = uint64_t(-1);
  setRegs(pid, r);
}

}  // namespace

ProgramView initialView() {
  ProgramView v;
  // The tracer's own settings are what a program started from here inherits; the
  // tracer thread traps rdtsc itself, so the TSC mode is the default instead.
  v.persona = uint32_t(personality(kQueryPersona));
  int seccomp = prctl(PR_GET_SECCOMP);
  v.seccompMode = seccomp > 0 ? seccomp : 0;
  int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  v.noNewPrivs = nnp > 0 ? nnp : 0;
  return v;
}

std::string viewAtEntry(pid_t pid, Session& s, int64_t nr, const uint64_t a[6]) {
  s.exitFix = ExitFix::kNone;
  switch (nr) {
    case kNrClone:
      // CLONE_UNTRACED would hide the child from the recorder, which must turn its
      // rdtsc trapping off (and, with the syscall buffer, serve its syscalls).
      if (a[0] & kCloneUntraced) {
        user_regs_struct r = s.entry;
        r.rdi &= ~kCloneUntraced;
        setRegs(pid, r);
      }
      break;
    case kNrPersonality:
      // ASLR stays off (replay maps at the recorded addresses); the program's own
      // flags are what it sees.
      s.exitFix = ExitFix::kPersona;
      s.exitValue = s.view.persona;
      if ((a[0] & 0xffffffff) != kQueryPersona) {
        user_regs_struct r = s.entry;
        r.rdi = (a[0] & 0xffffffff) | ADDR_NO_RANDOMIZE;
        setRegs(pid, r);
      }
      break;
    case kNrArchPrctl:
      // CPUID faulting may be the recorder's (src/cpuid): the program's own setting
      // is what it reads back; turning faulting off would undo the recorder's, and
      // natively succeeds, so it is answered 0 without running.
      if (a[0] == kArchGetCpuid) {
        s.exitFix = ExitFix::kResult;
        s.exitValue = s.view.cpuid;
      } else if (a[0] == kArchSetCpuid && a[1] == 1) {
        annul(pid, s, 0);
        s.view.cpuid = 1;
      }
      break;
    case kNrPtrace:
      // Attaching to the recorder would stop it: answered as for any traced process.
      if ((a[0] == kPtraceAttach || a[0] == kPtraceSeize) && a[1] == uint64_t(getpid())) annul(pid, s, -EPERM);
      break;
    case kNrPrctl:
      switch (a[0]) {
        case kSetSyscallUserDispatch:
          if (a[1] != 0)
            return "syscall user dispatch turns the program's syscalls into SIGSYS before a tracer sees them, "
                   "which rewind cannot replay yet";
          break;
        case kGetPdeathsig:
        case kGetTsc:
          s.exitFix = ExitFix::kIntAtArg1;
          s.exitValue = a[0] == kGetPdeathsig ? s.view.pdeathsig : s.view.tscMode;
          break;
        case kSetTsc:
          // The recorder's trap stays; a program that asks for SIGSEGV gets it (record_signals.cc).
          annul(pid, s, a[1] == 1 || a[1] == 2 ? 0 : -EINVAL);
          if (a[1] == 1 || a[1] == 2) s.view.tscMode = int(a[1]);
          break;
        case kGetSeccomp:
        case kGetNoNewPrivs:
          s.exitFix = ExitFix::kResult;
          s.exitValue = a[0] == kGetSeccomp ? s.view.seccompMode : s.view.noNewPrivs;
          break;
      }
      break;
  }
  return "";
}

void viewAtExit(pid_t pid, Session& s, user_regs_struct& r) {
  int64_t nr = int64_t(s.entry.orig_rax);
  uint64_t a[6];
  args6(s.entry, a);
  int64_t result = int64_t(r.rax);
  bool ok = !isError(result);
  // Settings the program makes for itself (the preload library's own calls, from its
  // traced instruction, are the recorder's).
  bool fromLibrary = s.bufAddr && s.entry.rip == s.tracedAfter;
  if (ok && !fromLibrary) {
    if (nr == kNrPrctl && a[0] == kSetPdeathsig) s.view.pdeathsig = int(a[1]);
    if (nr == kNrPrctl && a[0] == kSetSeccomp) s.view.seccompMode = int(a[1]);
    if (nr == kNrPrctl && a[0] == kSetNoNewPrivs) s.view.noNewPrivs = 1;
    if (nr == kNrSeccomp && (a[0] == 0 || a[0] == 1)) s.view.seccompMode = a[0] == 0 ? 1 : 2;
    if (nr == kNrArchPrctl && a[0] == kArchSetCpuid) s.view.cpuid = int(a[1]);
  }
  switch (s.exitFix) {
    case ExitFix::kIntAtArg1:
      if (result == 0 && a[1]) {
        int32_t v = int32_t(s.exitValue);
        writeMemory(pid, a[1], &v, 4);
      }
      break;
    case ExitFix::kResult:
      if (ok) r.rax = uint64_t(s.exitValue);
      break;
    case ExitFix::kPersona:
      if (ok) {
        r.rax = uint64_t(s.exitValue);
        if ((a[0] & 0xffffffff) != kQueryPersona) s.view.persona = uint32_t(a[0]);
      }
      break;
    default:
      return;
  }
  setRegs(pid, r);
}

}  // namespace rw
