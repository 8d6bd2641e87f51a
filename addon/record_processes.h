// Every process of a recording (docs/timeline.md, "Processes"). The program's
// fork, vfork and clone children (not threads) are traced from birth
// (PTRACE_O_TRACEFORK/VFORK/CLONE on the root, inherited by its descendants) and
// recorded like the root, each with its own Session, into the one event stream:
// every record carries the pid of the process it belongs to, and the stream's
// order is the order the tracer saw the stops in, a global order replay follows.
// Where a process was created is a clone event in its parent's stream.
//
// The processes run in parallel while recording: the tracer resumes each one from
// its stop and waits for whichever stops next (waitpid(-1, __WALL)). Processes that
// share no memory are deterministic on their own given their syscall results.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "ptrace_ops.h"
#include "record_images.h"
#include "record_session.h"
#include "record_slices.h"
#include "record_threads.h"

namespace rw {

// One recording: every process of it and the loop's state between runs. JS owns it
// (`new native.Recording(root, recordChildren)`, addon/recording_exports.cc); only
// the tracer thread touches it, except stopRequested.
struct Recording {
  Recording(pid_t root, bool recordChildren) : root(root), recordChildren(recordChildren) {}
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

  const pid_t root;
  // Children are recorded (default) or run live as before (REWIND_CHILDREN=live).
  const bool recordChildren;
  // The root has been given its first view (the first run has begun).
  bool started = false;
  // The loop returned its last stop (the program ended or was stopped): no run may follow.
  bool ended = false;
  // Set from the JS thread (requestStop): at the next stop the loop copies the
  // syscall buffer into the trace, kills the program and returns.
  std::atomic<bool> stopRequested{false};
  // Every recorded thread of every process, by tid (a process is its first thread).
  std::map<pid_t, Session> procs;
  // The processes with more than one thread, by tgid: who runs user code (record_threads.h).
  std::map<pid_t, ThreadGroup> groups;
  // Processes in a ptrace-stop the loop holds: resumed at the start of the next run.
  std::set<pid_t> held;
  // The root has ended: these are handed to rewind-babysit at their next stop.
  std::set<pid_t> releasing;
  std::vector<pid_t> released;
  // Writes to the recording's stdout and stderr run one at a time, in the order
  // their entries were seen, so that the trace has them in the order they happened:
  // the process inside one, and those held at their entry until it returns.
  pid_t stdioWriter = 0;
  std::deque<pid_t> stdioQueue;
  bool rootEnded = false, rootKilled = false;
  int rootStatus = 0;
  // ELF images whose mappings the loop records without a stop (record_images.h).
  KnownImages images;
  // Once JS has said so (Recording.cpuidAtExec): the loop switches CPUID faulting on
  // again at each exec stop, with these answers (the same for every process), which
  // JS did after the stop, a round trip to the JS thread per exec.
  bool cpuidFaultingAtExec = false;
  std::shared_ptr<const std::map<uint64_t, CpuidAnswer>> cpuidExecAnswers;
  // Time slices of threads, --chaos (record_slices.h).
  SliceSettings slices;
};

// Waits for the next stop of any recorded process; live children (of the root,
// when children run live) are served meanwhile, other tracees' statuses stashed.
std::pair<pid_t, Stop> waitAnyRecorded(Recording& rec);

// Resumes every held process (a process that died meanwhile is skipped: its
// death is reported by waitpid). A dying thread whose exit waits for its turn
// (record_threads.h) is handed to `onExitTurn` first, which records its exit.
void resumeHeld(Recording& rec, const std::function<void(pid_t, Session&)>& onExitTurn);

// What a new child's memory holds that its parent's does not, as the clone event's
// child writes (applied to the replayed child the same way).
using ChildWrites = std::vector<std::pair<uint64_t, std::vector<uint8_t>>>;

// The tid CLONE_CHILD_SETTID had the kernel store in the child (parent `p` at the
// clone's entry), added to `writes`.
void addChildSettid(pid_t child, const Session& p, uint64_t flags, ChildWrites& writes);

// Appends the clone event: `parent` made `child` (`kind`: the ptrace event, or
// kThreadClone for a thread) with clone flags `flags`, and the child's writes.
void writeCloneEvent(RecordWriter& w, pid_t parent, pid_t child, uint32_t kind, uint64_t flags, const ChildWrites& writes);

// A PTRACE_EVENT_FORK/VFORK/CLONE stop of `parent` for a child that is not a
// thread: the child becomes a recorded process, held at its first stop. Writes
// the clone event (the child's pid, the event, the clone flags, and the bytes of
// the child's memory that differ from the parent's: CLONE_CHILD_SETTID's tid and
// the syscall buffer's fork guard, lifted in the child) to the parent's stream.
void adoptRecordedChild(Recording& rec, pid_t parent, pid_t child, int event, RecordWriter& w,
                        uint32_t& count);

// The root has ended: the others are stopped and handed over to rewind-babysit
// (docs/syscallbuf.md, "Children"). Returns false while some still have to stop.
bool releaseAtStop(Recording& rec, pid_t pid, Session& s, const Stop& st);
void beginRelease(Recording& rec);

// At the entry of a write to the recording's stdout or stderr: true if another
// process is inside one (then this one is held, queued, until that one returns).
bool holdStdioWrite(Recording& rec, pid_t pid);
// A process left its write (returned, or died): the next one queued may go on.
void endStdioWrite(Recording& rec, pid_t pid);

// Notes the recording's stdout and stderr, as the root has them at its start.
void noteStdio(pid_t root, Session& s);
// kSysEchoed if call nr is a write (write, pwrite64, writev, pwritev, pwritev2) to
// an fd of the process that is the recording's stdout or stderr, else 0.
uint8_t echoFlag(pid_t pid, const Session& s, int64_t nr, uint64_t fd);

}  // namespace rw
