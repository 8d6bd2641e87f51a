// rt_sigaction replayed without running it where running it would change nothing
// replay depends on: one ptrace stop (a skipped entry, replay_sysemu.h) instead of
// two.
//
// A replay runs every rt_sigaction (src/syscalls/specs.ts: `execute`), because the
// kernel delivers the recorded signals with the replayed process's own dispositions.
// make's children (posix_spawn's vfork child before its exec) ask and set all 64
// dispositions, ~130 calls each: 1 285 calls, 2 570 stops, a fifth of a make
// replay's stops. Most of them change nothing: the query only reads, and the set
// puts SIG_DFL where SIG_DFL already is.
//
// What the kernel's dispositions decide in replay is their class per signal:
// default, ignored, or caught by a handler (a recorded signal's delivery, and
// SIG_IGN kept across exec). The flags, mask and restorer of a default or ignored
// action change nothing the kernel does (SIGCHLD's SA_NOCLDSTOP and SA_NOCLDWAIT
// aside), and the program sees them only through later queries. So:
// - a query (act NULL) is answered from the trace when the recording stored the old
//   action it returned (traces since this change: the row's `oldact` output);
// - a set of SIG_DFL or SIG_IGN to a signal other than SIGCHLD whose class is the
//   same already (/proc/PID/status SigIgn and SigCgt, read once per run) is
//   answered too, once the trace is known to store old actions (a query of this
//   process carried one): every later query is then answered from the trace, so
//   no difference in flags or mask left in the kernel can reach the program.
// Anything else runs as before (a handler installed, a class changed, a call that
// failed when recorded, an older trace). The call's number and arguments are
// compared as for any call; the set's new action is read from the process and
// decides whether it runs, so a set that differs from its recording's still ends
// in the kernel.
#pragma once
#include <sys/types.h>

#include <cstdint>

#include "event_format.h"

namespace rw {

struct ReplaySession;

// What one replayed process's loop knows of its dispositions (in its ReplaySession).
struct SigactionState {
  bool classesKnown = false;  // ignored and caught hold /proc's classes for this run
  uint64_t ignored = 0, caught = 0;
  bool oldActionsRecorded = false;  // a query's record carried the old action
  bool lastSetAnswered = false;     // the prediction for the next set (sets come in runs)
};

// Before the stop: whether rt_sigaction record `v` will likely be answered (the
// resume then skips its entry; a wrong guess only costs the re-entry's stops).
bool sigactionLikelyAnswered(const RecordView& v, const ReplaySession& s);

// At the entry stop of rt_sigaction record `v` (a: the replayed arguments, compared
// already): whether the loop answers it from the trace instead of running it. Notes
// what it learns (old actions recorded, the classes, the prediction for the next set).
bool sigactionAnswered(pid_t pid, ReplaySession& s, const RecordView& v, const uint64_t a[6]);

// After an rt_sigaction that ran (and returned what it returned when recorded): the
// class of its signal is the new action's.
void sigactionRan(pid_t pid, ReplaySession& s, const uint64_t a[6], int64_t result);

// The classes read from /proc may be stale: a new run, a signal delivered (an
// SA_RESETHAND handler), an exec.
void sigactionForget(ReplaySession& s);

// How many rt_sigaction calls every replay of this process answered (diagnostics:
// REWIND_TRACE_RUNS, tests).
uint64_t sigactionsAnsweredCount();

}  // namespace rw
