// How a divergence is worded (replay_divergence.h).
#include "replay_divergence.h"

#include <cstdio>

namespace rw {

void args6(const user_regs_struct& r, uint64_t a[6]) {
  a[0] = r.rdi; a[1] = r.rsi; a[2] = r.rdx; a[3] = r.r10; a[4] = r.r8; a[5] = r.r9;
}
void setArgs(user_regs_struct& r, const uint64_t a[6]) {
  r.rdi = a[0]; r.rsi = a[1]; r.rdx = a[2]; r.r10 = a[3]; r.r8 = a[4]; r.r9 = a[5];
}

std::string describeCall(int64_t nr, const uint64_t a[6]) {
  char buf[256];
  snprintf(buf, sizeof buf, "syscall %lld (0x%llx, 0x%llx, 0x%llx, 0x%llx, 0x%llx, 0x%llx)", (long long)nr,
           (unsigned long long)a[0], (unsigned long long)a[1], (unsigned long long)a[2],
           (unsigned long long)a[3], (unsigned long long)a[4], (unsigned long long)a[5]);
  return buf;
}

std::string describeStop(pid_t pid, const Stop& st) {
  switch (st.kind) {
    case Stop::kExited: return "the process exited with status " + std::to_string(st.code);
    case Stop::kKilled: return "the process was killed by signal " + std::to_string(st.sig);
    case Stop::kEvent: return "ptrace event " + std::to_string(st.event);
    case Stop::kSignal: return "signal " + std::to_string(st.sig);
    case Stop::kSyscall: {
      user_regs_struct r = getRegs(pid);
      uint64_t a[6];
      args6(r, a);
      return describeCall(int64_t(r.orig_rax), a);
    }
  }
  return "?";
}

std::string hex32(uint32_t v) {
  char buf[16];
  snprintf(buf, sizeof buf, "%x", v);
  return buf;
}

}  // namespace rw
