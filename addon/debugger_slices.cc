// Resuming the tracee and waiting for it, with the two things that can stop a run
// from outside: a slice (slice_timer.cc sends SIGSTOP at a chosen run time, and the
// run leaves a copy of the process there before going on) and the user's interrupt
// (interrupt() on the JS thread sends SIGSTOP and the run ends "interrupted").
// Both come as a SIGSTOP; the run time (ranNs: the process's CPU time while the run
// resumed it, run_clock.h) is kept here to tell when a slice is due.
#include <algorithm>
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "debugger.h"
#include "process_copy.h"
#include "replay_thread_copy.h"
#include "run_clock.h"
#include "tracer_thread.h"
#include "slice_timer.h"

namespace rw {

bool Debugger::interrupt() {
  interrupts.asked.store(true);
  bool running = interrupts.running.load();
  if (running) {
    pid_t p = runningPid.load();
    syscall(SYS_tgkill, tracee->pid, p, SIGSTOP);
  }
  return running;
}

// A slice is due: leave a copy here with the exact counts (arrivals before this
// state: a breakpoint at the current pc has not trapped yet).
void Debugger::takeSlice() {
  // a second slice due at once would stand at the same state (no instruction ran
  // since the last one): two copies of one point, which later searches would take
  // for two points in order
  user_regs_struct now = regs();
  if (haveSliceRegs && std::memcmp(&now, &lastSliceRegs, sizeof now) == 0) {
    if (!sliceAt.empty()) sliceAt.erase(sliceAt.begin());
    return;
  }
  syncFeed();  // inside a fill: the copy's interval is where the library got to
  // a process that made threads: every thread copied (fork would copy one of several)
  std::vector<TraceePtr> threads;
  TraceePtr child;
  if (madeThreads) {
    threads = copyThreadsMidRun();
    if (threads.empty()) {  // it cannot be copied here (debugger_threads.cc)
      if (!sliceAt.empty()) sliceAt.erase(sliceAt.begin());
      return;
    }
    child = threads.front();
  } else {
    child = forkCopy(*tracee, forkAt, &sw);
  }
  lastSliceRegs = now;
  haveSliceRegs = true;
  const uint64_t pages = residentPages(child->pid);
  // the copy's feed holds the rest of the fill, which no run of the copy accounts for
  if (fedCounter) feedEmptyCopy(child->pid, fedCounter);
  StopInfo s;
  s.num("pid", child->pid);
  s.num("event", event);
  s.big("pc", regs().rip);
  s.num("watchHits", double(watchHits));
  s.num("seq", double(hitSeq));
  s.num("ranNs", double(ranNs));
  std::vector<uint64_t> cs;
  auto add = [&](uint64_t a) {
    if (!isExact(a)) return;
    auto it = counts.find(a);
    cs.push_back(a);
    cs.push_back(it == counts.end() ? 0 : it->second);
  };
  for (auto& [a, b] : sw) add(a);
  for (auto& sl : slots)
    if (sl.used && sl.type == 0 && !sw.count(sl.addr)) add(sl.addr);
  s.bigs("counts", std::move(cs));
  if (slicesTaken) {
    slicesTaken->infos.push_back(std::move(s));
    slicesTaken->copies.push_back(std::move(child));
    slicesTaken->threads.push_back(std::move(threads));
    slicesTaken->bytes.push_back(pages * kPageBytes);
    while (slicesTaken->heldBytes() > kRunCopiesBytes && slicesTaken->copies.size() > 1) slicesTaken->thin(sliceAt);
  }
  if (!sliceAt.empty()) sliceAt.erase(sliceAt.begin());
  while (!sliceAt.empty() && sliceAt.front() <= ranNs) sliceAt.erase(sliceAt.begin());
  spaceSlices(pages);
}

// The registers are those the main resume started from (eflags and orig_rax aside):
// no instruction ran. Not the pc alone: a slice stopped inside a rep-string
// instruction resumes there and is often stopped there again, with its iterations
// done in between (a program in one big memset got one copy in seconds).
bool Debugger::noneRanSinceResume() {
  if (!resumeRegsKept) return false;
  user_regs_struct a = regs(), b = resumeRegs;
  a.eflags = b.eflags = 0;
  a.orig_rax = b.orig_rax = 0;
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Waits for the tracee's next stop. A SIGSTOP of a slice is handled here: the
// slice is taken where allowed (the main resume of continue mode), and the same
// request resumes the tracee again.
Stop Debugger::waitFor(int request, bool sliceHere) {
  bool carried = false;  // st is a stop that came while running out of a rep-string instruction
  Stop st;
  for (;;) {
    if (!carried) {
      st = waitStop(pid);
      uint64_t ranTo = runClockNs(tracee->pid);
      if (ranTo > resumedAt) ranNs += ranTo - resumedAt;  // (0: the process is gone)
    }
    carried = false;
    interrupts.running.store(false);
    bool isStop = st.kind == Stop::kSignal && st.sig == SIGSTOP;
    // the timer stays armed across other stops (re-arming at every trap of a busy
    // search would cost a wake-up of the timer thread each time)
    bool sent = false;
    if (sliceArmed && (isStop || !sliceHere)) {
      sent = disarmSlice();
      sliceArmed = false;
    }
    if (sent && !isStop) staleStops++;
    if (!isStop || !(sent || staleStops > 0)) return st;
    if (!sent) staleStops--;
    if (interrupts.asked.load() || deferredInterrupt) return st;  // the user's interrupt came with it, or is due
    regsValid = false;
    // another signal pending (an rdtsc's SIGSEGV, a fault) comes first: no copy here.
    // (In any thread: a copy of a process of several threads is taken at once.)
    // Nor where no instruction ran since the resume: a SIGSTOP reported before the
    // first instruction stands at a state that other paths reach differently (the
    // first instruction of a signal handler entered by a step over a breakpoint,
    // whose frame remembers the step), and re-execution did not find it again.
    bool due = sliceHere && !sliceAt.empty() && sliceAt.front() <= ranNs + 50000;
    // Nor inside the library's code while it serves calls (debugger_feed.cc): the copy
    // is put off a little, when the program is out of it (a timer due at once would
    // stop it again before it got anywhere).
    // A copy not taken here is put off, not left due: a timer re-armed due at once
    // stopped the program again before it ran an instruction, again and again (a
    // search over buffered calls with a breakpoint between them crawled, minutes
    // on a loaded machine).
    // Nor after a resume that delivered a signal: the SIGSTOP is reported at the
    // handler's entry before its first instruction (the kernel built the frame and
    // then took the SIGSTOP), a state that a re-execution stepping into the handler
    // did not find again (reverse-step out of a handler lost its way, under load).
    if (due && (inFedCode(regs().rip) || pendingSignalsOfProcess(pid) != 0 || noneRanSinceResume() || resumeDelivered)) {
      sliceAt.front() = ranNs + fedSlicePutOff;
      fedSlicePutOff = std::min(2 * fedSlicePutOff, kFedSlicePutOffMaxNs);
    } else if (due) {
      // inside a rep-string instruction: the copy is taken after it (debugger_rep_string.cc)
      uint64_t next = repStringEnd();
      RepExit out = next ? runOutOfRepString(next, request, st) : RepExit::kAtNext;
      if (out == RepExit::kOther) {
        carried = true;  // handled as any stop of the run
        continue;
      }
      if (out == RepExit::kNotRun) {
        sliceAt.front() = ranNs + fedSlicePutOff;
        fedSlicePutOff = std::min(2 * fedSlicePutOff, kFedSlicePutOffMaxNs);
      } else {
        takeSlice();
        fedSlicePutOff = kFedSlicePutOffNs;
      }
    }
    resumeWatched(request, nullptr, sliceHere);
  }
}

void Debugger::resumeWatched(int request, int* sig, bool sliceHere) {
  interrupts.running.store(true);
  if (interrupts.take()) {
    interrupts.running.store(false);
    throw stopWith("interrupted");
  }
  int s = sig ? *sig : 0;
  // an interrupt put off while the program was in the library's code: its SIGSTOP
  // comes a moment after this resume (stopping here instead, where the loop happens
  // to stand, would leave no copy to name the stop by)
  if (deferredInterrupt && sliceHere && s == 0 && !sliceArmed) deferStop();
  // where this resume starts, while a copy may be due (see waitFor)
  resumeRegsKept = sliceHere && !sliceAt.empty();
  if (resumeRegsKept) resumeRegs = regs();
  resumeDelivered = s != 0;
  // run time is the process's CPU time (run_clock.h): it stands still while stopped
  const uint64_t clock = runClockNs(tracee->pid);
  if (sliceHere && s == 0 && !sliceAt.empty() && !sliceArmed) {
    uint64_t due = sliceAt.front() > ranNs ? sliceAt.front() - ranNs : 0;
    slicePid = pid;
    armSlice(tracee->pid, pid, clock + due);
    sliceArmed = true;
  } else if (sliceArmed && (!sliceHere || s != 0)) {
    if (disarmSlice()) staleStops++;
    sliceArmed = false;
  }
  regsValid = false;
  resumedAt = clock;
  resume(pid, request, s);
  if (sig) *sig = 0;
}

// The program's code ran up to the stop the replay loop waits for: no slice is
// due during the event (the timer is disarmed until the next resume of user code).
// A SIGSTOP the timer sent meanwhile is pending in the thread: left there, it is
// taken before the next instruction of user code (waitFor swallows it then), but a
// call the loop executes from a syscall's entry sees it first: a clone fails at
// once (the kernel restarts it after the signal: ERESTARTNOINTR), so the replay
// found "no child was created"; a blocking call returns early. So a SIGSTOP pending
// at a syscall's entry is taken now: the call is skipped (orig_rax -1) to its exit
// stop, the SIGSTOP comes on the way back and is suppressed, and the thread runs
// its `syscall` instruction again to the entry stop of the same call. (Under load
// the timer fires late and often in that window: reverse searches from the end of
// a threaded recording, whose runs cross the threads' clones, "lost the way back"
// in about 5 of 12 gdb sessions run six at a time.)
Stop Debugger::withoutSliceStop(const Stop& st) {
  if (!sliceArmed) return st;
  sliceArmed = false;
  if (!disarmSlice()) return st;
  if (st.kind == Stop::kExited || st.kind == Stop::kKilled) return st;  // the thread is gone, and its signal with it
  const pid_t t = slicePid ? slicePid : pid;
  if (st.kind != Stop::kSyscall || t != pid) {
    staleStops++;  // taken before the next instruction of user code (waitFor)
    return st;
  }
  user_regs_struct entry = getRegs(t);
  bool atEntry = int64_t(entry.orig_rax) >= 0 && int64_t(entry.rax) == -ENOSYS;
  if (!atEntry || pendingSignals(t) != (1ull << (SIGSTOP - 1)) || sw.count(entry.rip - 2) || !isSyscallInsn(t, entry.rip - 2)) {
    staleStops++;  // taken before the next instruction of user code (waitFor)
    return st;
  }
  user_regs_struct r = entry;
  r.orig_rax = uint64_t(-1);
  setRegs(t, r);
  resume(t, PTRACE_SYSCALL, 0);
  Stop s = waitStop(t);
  if (s.kind != Stop::kSyscall) throw NativeError{EPROTO, "a skipped call did not stop at its exit (taking a slice's SIGSTOP)"};
  resume(t, PTRACE_SYSCALL, 0);
  s = waitStop(t);
  if (!(s.kind == Stop::kSignal && s.sig == SIGSTOP)) throw NativeError{EPROTO, "a slice's SIGSTOP was pending, the thread stopped otherwise"};
  r = entry;
  r.orig_rax = uint64_t(-1);
  r.rax = entry.orig_rax;
  r.rip = entry.rip - 2;  // `syscall` (0f 05)
  setRegs(t, r);
  for (int tries = 0; tries < 3; tries++) {  // a seccomp filter that traces the call stops it before its entry
    resume(t, PTRACE_SYSCALL, 0);
    s = waitStop(t);
    if (!(s.kind == Stop::kEvent && s.event == PTRACE_EVENT_SECCOMP)) break;
  }
  if (s.kind != Stop::kSyscall) throw NativeError{EPROTO, "a thread did not come back to its syscall's entry (taking a slice's SIGSTOP)"};
  setRegs(t, entry);
  regsValid = false;
  return st;
}

// A slice SIGSTOP still pending at the end of a run: take it now, before anything
// else resumes the tracee (it arrives before the next instruction). Not at a
// syscall stop: there the tracee is inside the kernel and a resume finishes the
// call first (at the recorded end that is exit_group, and the process is gone), so
// the SIGSTOP stays pending and counted, for the next run's waitFor to swallow.
void Debugger::drainStops() {
  if (staleStops <= 0) return;
  // the SIGSTOP went to the thread the timer was armed for, which the run may have left
  // since (a thread made meanwhile runs: debugger_threads.cc)
  const pid_t pid = slicePid ? slicePid : this->pid;
  // a thread parked at a syscall's entry (an enter event) is inside the kernel too
  if (threadGroup)
    for (auto& t : threadGroup->live())
      if (t->pid == pid && t->replay.atEntry) return;
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  // at a syscall stop or a ptrace event stop (a clone the run returned to JS at) the
  // resume finishes the call first: the SIGSTOP stays pending, for a later waitFor
  if (ptrace(PTRACE_GETSIGINFO, pid, nullptr, &si) == 0 && (si.si_code == (SIGTRAP | 0x80) || (si.si_signo == SIGTRAP && (si.si_code >> 8) != 0))) return;
  staleStops = 0;
  if (pendingSignals(pid) != (1ull << (SIGSTOP - 1))) return;
  resume(pid, PTRACE_SINGLESTEP, 0);
  Stop st = waitStop(pid);
  if (!(st.kind == Stop::kSignal && st.sig == SIGSTOP)) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "a slice's SIGSTOP was pending, the tracee stopped otherwise (stop kind %d, signal %d, event %d, status %d)",
                  int(st.kind), st.sig, st.event, st.code);
    throw NativeError{EPROTO, buf};
  }
  regsValid = false;
}

}  // namespace rw
