// What the program sees of the recorder: recording must not change it. The
// recorder runs the program with rdtsc trapping, a parent-death signal, ASLR off
// (and with the syscall buffer, a seccomp filter); the program's own queries and
// settings of these are answered from its native view (ProgramView), and the few
// calls that would undo the recorder's settings or trace the recorder itself are
// rewritten. See docs/usage.md, "What the program sees".
#pragma once
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <string>

#include "record_session.h"

namespace rw {

// The view a program started from this tracer would have natively.
ProgramView initialView();

// At a syscall's entry, before it runs. May rewrite registers (the recorded
// arguments stay the program's own), or annul the call with a result. Returns a
// non-empty reason when the call cannot be recorded at all.
std::string viewAtEntry(pid_t pid, Session& s, int64_t nr, const uint64_t a[6]);

// At its exit, before the event is encoded: the result and memory the program
// would have got natively. `r` holds the exit registers and is updated in place.
void viewAtExit(pid_t pid, Session& s, user_regs_struct& r);

}  // namespace rw
