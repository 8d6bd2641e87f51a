// How the replay loop (replay_loop.cc) words a divergence: what the recording has
// and what the replay did instead, as the calls and stops JS shows the user
// (src/replay/replay-process.ts names the syscalls).
#pragma once
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <string>

#include "ptrace_ops.h"

namespace rw {

// Thrown inside the loop; reported as stop reason 'divergence'.
struct Diverged {
  std::string expected, actual;
};

// A syscall's six argument registers, read and written.
void args6(const user_regs_struct& r, uint64_t a[6]);
void setArgs(user_regs_struct& r, const uint64_t a[6]);

// "syscall NR (0x.., ...)"
std::string describeCall(int64_t nr, const uint64_t a[6]);
// What the tracee did at stop `st`: the call it entered, a signal, its end.
std::string describeStop(pid_t pid, const Stop& st);
std::string hex32(uint32_t v);

}  // namespace rw
