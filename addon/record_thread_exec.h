// An exec from a thread other than its process's first, while recording
// (docs/timeline.md, "Threads", exec from a thread). The kernel ends every other
// thread of the process (de_thread): each thread but the first stops at its
// PTRACE_EVENT_EXIT and is reported dead with status 0, the first one dies
// silently; then the execing thread takes the process's pid, and the tracer sees
// PTRACE_EVENT_EXEC on that pid with the former tid as the event message (man
// ptrace, "execve(2) under ptrace"). de_thread waits for the tracer to reap the
// other threads, so their deaths always come before the exec event.
//
// The trace keeps it as it happened: the deaths (exit events of each thread,
// status 0), the execve's own event in the stream of the thread that made the
// call (its enter event is there too), and everything after, the exec event
// first, under the process's pid. Replay (replay_thread_exec.h) follows that.
#pragma once
#include <sys/types.h>

#include "record_session.h"

namespace rw {

struct Recording;

// A thread of `tid`'s process is inside an execve or execveat: a thread that dies
// now without having called exit itself is one the exec ends. Its death is
// recorded at once, not at its turn: the exec throws the memory its
// CLONE_CHILD_CLEARTID store goes to away, and the execing thread holds the
// process (record_threads.h, markEntry) through a call that returns only once the
// other threads are reaped.
bool endedByExec(const Recording& rec, pid_t tid, const Session& s);

// A stop of `tid` the loop reaped, but the thread is gone since: a sibling's exec
// ended it (the first thread stopped at a syscall, after a sibling had gone into
// its execve, is woken by the kernel's SIGKILL and released unreported; another
// thread reports its death next). The stop is let go: nothing of it is recorded.
bool vanishedInExec(const Recording& rec, pid_t tid, const Session& s);

// The same, found late: handling a stop of `tid` failed with `err` (ESRCH from
// ptrace, the thread no longer stopped). True if a sibling's exec ended it: the
// caller takes back what it recorded of the stop, and the thread is not held.
bool takeBackStop(Recording& rec, pid_t tid, int err);

// PTRACE_EVENT_EXEC of `leader` (the process's pid) for an exec made by thread
// `former` of its process: `former`'s Session becomes the process's (the first
// thread's, one thread from now on, the ptrace options of a first thread), the
// leader's old Session and the thread group go. The execve's event, at its
// exit, is still written in `former`'s stream (Session::execFormerTid).
void execFromThread(Recording& rec, pid_t leader, pid_t former);

}  // namespace rw
