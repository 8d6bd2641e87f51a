// An exec from a thread other than its process's first, in replay (docs/timeline.md,
// "Threads", exec from a thread; the recording's side is record_thread_exec.h).
// The trace has, in this order: the execing thread's enter event for execve (it
// stands at the call's entry from then on), the deaths of the other threads but
// the first (exit events, status 0), the execve's own event in that thread's
// stream, then the exec event and everything after in the process's pid.
//
// Replay makes the same exec happen for real: the thread execs the replay stub
// (src/replay/replay-process.ts, replayExec), the kernel ends the other threads
// and the first, and the process goes on at the first thread's pid. So the exit
// events only hand their thread over to that exec (they cannot kill one thread
// alone: a SIGKILL takes the process), and the Tracee of the first thread stands
// for the process after the exec, as its pid does.
#pragma once

namespace rw {

struct Tracee;

// At an exit event of thread `t` (status 0, as the kernel reports the threads an
// exec ends), which did not call exit itself: true if a thread of its process
// stands at an execve's entry (and none at an exit_group's), whose exec ends it.
// `t` is then left to that exec (its tid kept in the group's ReplayThreads,
// reaped by execFromThread) and done with here.
bool leftToSiblingExec(Tracee& t);

// `thread` stands at the entry of its execve with the registers of the exec the
// replay makes instead; `leader` is the first thread of its process. Runs the
// exec: reaps the threads it ends, follows the kernel's change of pid, and leaves
// the process at the execve's return under `leader`'s pid. From then on `leader`
// stands for the process (a fresh replay state for the new image, `thread`'s
// CPUID emulation), and `thread` and the other threads are gone.
void execFromThread(Tracee& leader, Tracee& thread);

}  // namespace rw
