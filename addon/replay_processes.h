// Replaying the processes a program created (docs/timeline.md, "Processes"). A
// clone event in a parent's stream is where a child was created: replay makes
// the fork-like call for real, so that the child starts as a copy of the replayed
// parent, in its memory if it shared it (vfork, posix_spawn), and then replays the
// child's own events. The call runs with exit signal 0 and without the flags that
// would take the child out of reach (CLONE_UNTRACED, namespaces, pidfds): the
// replayed parent gets its SIGCHLDs and wait results from the trace, not from the
// replayed children.
#pragma once
#include <sys/types.h>
#include <sys/user.h>

#include <string>

#include "event_format.h"
#include "ptrace_ops.h"

namespace rw {

// The parent stands at the entry stop of the fork-like call (`entry` its
// registers). Runs it until the ptrace event that names the child, waits for the
// child's first stop and writes the clone event's child bytes into it. The parent
// is left at the event stop, inside the call. Returns the child's pid, or throws
// ReplayCloneError with what happened instead.
pid_t replayCreateChild(pid_t parent, const user_regs_struct& entry, const RecordView& cloneEvent);

struct ReplayCloneError {
  std::string what;
};

bool isForkLikeCall(int64_t nr);

// A SIGCHLD the kernel sent a replayed parent for a replayed child (one that
// exec'd gets SIGCHLD as its exit signal again): not the program's, which come
// from the trace; it is dropped.
bool isReplayChildSignal(pid_t pid, const Stop& st);

}  // namespace rw
