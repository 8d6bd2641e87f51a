// Reading and writing the debug registers of a stopped tracee (struct user's
// u_debugreg through PTRACE_PEEKUSER/POKEUSER) and encoding DR7 from the slots.
#include "debug_regs.h"

#include <errno.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include <string>

#include "tracer_thread.h"

namespace rw {
namespace {
constexpr size_t kDrOffset = offsetof(struct user, u_debugreg);
}  // namespace

void pokeDr(pid_t pid, int i, uint64_t v) {
  if (ptrace(PTRACE_POKEUSER, pid, (void*)(kDrOffset + 8 * i), (void*)v) != 0)
    throw NativeError{errno, "ptrace(PTRACE_POKEUSER, debug register " + std::to_string(i) + ")"};
}

uint64_t peekDr(pid_t pid, int i) {
  errno = 0;  // PEEKUSER returns the value: only errno tells a failure
  long v = ptrace(PTRACE_PEEKUSER, pid, (void*)(kDrOffset + 8 * i), nullptr);
  if (errno) throw NativeError{errno, "ptrace(PTRACE_PEEKUSER, debug register " + std::to_string(i) + ")"};
  return uint64_t(v);
}

uint64_t dr7For(const Slots& slots) {
  uint64_t v = 0;
  for (int i = 0; i < 4; i++) {
    if (!slots[i].used) continue;
    int lenBits = slots[i].len == 1 ? 0 : slots[i].len == 2 ? 1 : slots[i].len == 8 ? 2 : 3;
    v |= 1ull << (2 * i);
    v |= uint64_t(slots[i].type) << (16 + 4 * i);
    v |= uint64_t(slots[i].type == 0 ? 0 : lenBits) << (18 + 4 * i);
  }
  return v;
}

void writeDebugRegs(pid_t pid, const Slots& slots) {
  pokeDr(pid, 7, 0);
  for (int i = 0; i < 4; i++)
    if (slots[i].used) pokeDr(pid, i, slots[i].addr);
  uint64_t v = dr7For(slots);
  if (v) pokeDr(pid, 7, v);
}

bool hwExecAt(const Slots& slots, uint64_t pc) {
  for (auto& sl : slots)
    if (sl.used && sl.type == 0 && sl.addr == pc) return true;
  return false;
}

}  // namespace rw
