// Threads while recording (docs/timeline.md, "Threads"): rr's model. The threads
// of one process share its memory, so at most one of them runs user code at a
// time: the process's *runner*. A thread's run of user code ends when it stops at
// a syscall entry (or dies); inside the kernel it runs no user code, so another
// ready thread of the process may run meanwhile (a futex wait or a read of an
// empty pipe never deadlocks the recording), and its syscall-exit stop makes it
// ready again, behind the others (first come, first served).
//
// The order of the runs is what replay must follow. A run ends at a stop the
// trace has an event for (a signal, an rdtsc, a cpuid), or at a syscall entry,
// which is marked with an enter event when the process has more than one thread:
// the syscall's own event comes at its exit, after the runs of other threads that
// happened while it was in the kernel.
//
// Preemption: a runner that computes without syscalls keeps the process to itself;
// another thread that must run first (it holds a lock the runner spins on) starves
// and the recording does not end. The place to end such a run is preemptRunner's
// caller (the record loop's wait, when the runner has had its slice): it needs a
// way to name the point where the runner was stopped exactly (docs/preemption.md),
// so that replay stops it there again. Until then nothing preempts.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <set>

#include "event_format.h"
#include "ptrace_ops.h"
#include "record_session.h"

namespace rw {

struct Recording;

// The threads of one process, by the tid of its first thread (its tgid).
struct ThreadGroup {
  std::set<pid_t> threads;
  pid_t runner = 0;          // the thread that runs user code, 0 when none does
  std::deque<pid_t> ready;   // stopped threads waiting to run user code, in order
  // The runner whose time slice runs, and when it ends (record_slices.h).
  pid_t slicedRunner = 0;
  double sliceEndMs = 0;
};

inline pid_t groupOf(pid_t tid, const Session& s) { return s.tgid ? s.tgid : tid; }

// A PTRACE_EVENT_CLONE stop of `parent` for a new thread of its process: the thread
// gets its own Session (a copy of the parent's, per-thread state reset), joins the
// group and is held at its first stop. Writes the clone event (CLONE_THREAD in its
// flags) with the bytes the thread's start wrote (CLONE_CHILD_SETTID's tid), and
// sends the calls that may block the traced way (the syscall buffer is one per
// thread, and one thread runs at a time: docs/syscallbuf.md, "Threads").
void adoptThread(Recording& rec, pid_t parent, pid_t child, RecordWriter& w, uint32_t& count);

// A stop of `tid` was reaped: a runner that stopped at a syscall entry or died
// gives up the process's user code.
void threadStopped(Recording& rec, pid_t tid, const Session& s, const Stop& st);

// The record loop is about to resume `tid` from its stop. True if it may go now:
// into the kernel (s.inSyscall, or dying), or into user code when no other thread
// of its process runs user code (it becomes the runner). Else it waits its turn.
bool mayResume(Recording& rec, pid_t tid, const Session& s);

// The threads to resume now that runners gave up their processes: the first ready
// thread of each process without a runner (it becomes the runner).
std::vector<pid_t> nextRunners(Recording& rec);

// At a syscall entry of `tid`: the enter event, when its process has other threads.
// A call that changes the address space (mmap, munmap, mprotect, madvise, ...) does
// not give up the process: no other thread runs until it returns.
void markEntry(Recording& rec, pid_t tid, const Session& s, int64_t nr, RecordWriter& w, uint32_t& count);

// PTRACE_EVENT_EXIT of a thread that is not its process's first (only those have
// PTRACE_O_TRACEEXIT): when resumed, the kernel clears its CLONE_CHILD_CLEARTID
// word and wakes the joiners, a store other threads see. So it waits for its turn,
// as user code does (s.exitPending; mayResume), its exit is recorded when it gets
// it (resumeHeld's onExitTurn), and it stays the runner until it is reaped: in
// replay the word is cleared at the same point between the other threads' runs,
// before the joiner's return. True (with how it dies in `death`) if it must.
bool threadExitStatus(pid_t tid, const Session& s, Stop& death);

// `tid` is gone (reaped): out of its group.
void threadGone(Recording& rec, pid_t tid, const Session& s);

// A thread mapped a data file: the other threads of its process know it too.
void shareMappedFiles(Recording& rec, pid_t tid, const Session& s);

// How many threads the process of `tid` has now.
size_t threadCount(const Recording& rec, pid_t tid, const Session& s);

}  // namespace rw
