// The recorded program's child processes: they run live and are not recorded
// (docs/usage.md). Without the syscall buffer they are detached at their birth;
// with it they inherited its seccomp filter, under which an untraced process gets
// ENOSYS for every syscall, so they stay traced and are resumed at every stop, and
// when the recorded process ends they are handed to a small helper process
// (rewind-babysit) that keeps serving them, so that the recorder can end.
#pragma once
#include <sys/types.h>

#include <vector>

#include "ptrace_ops.h"
#include "record_session.h"

namespace rw {

// A PTRACE_EVENT_FORK/VFORK/CLONE stop of the recorded process: takes care of the
// child (sharesMemory: a vfork child, which runs in the parent's memory).
void adoptForkChild(pid_t pid, pid_t child, bool sharesMemory, Session& s);

// A status of one of the live children in s.children: keeps it running; false if
// `c` is not one of them.
bool serveLiveChild(Session& s, pid_t c, int status);

// The recorded process has ended: detaches its remaining traced children, each
// left stopped by a SIGSTOP for the helper to pick up. Returns their pids.
std::vector<pid_t> releaseChildren(Session& s);

}  // namespace rw
