// Syscalls injected into one stopped thread of a traced process, whatever ptrace stop
// the replay left it in (docs/timeline.md, "Counting in the process": the counters'
// pages in a process of several threads). A thread parked at a syscall's entry stop
// (an enter event: its turn ended in the kernel) cannot take an injection as it
// stands: a single step from an entry stop traps before any instruction runs, the
// call still pending. It is moved just before its `syscall` instruction first, and
// brought back to the same entry stop afterwards. The same moves serve the copies
// of threads (thread_copy.cc).
#pragma once
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>

namespace rw {

// Whether a signal the thread does not block is pending for it: the single step of
// an injection would take it (a signal-delivery stop instead of the step's trap).
bool signalWaiting(pid_t tid, uint64_t blocked);
void setSigmask(pid_t tid, uint64_t mask);

// Every signal held back from thread tid (all blocked) while rewind resumes it for
// its own purposes, when one is waiting that the thread's mask `mask` lets through;
// nothing is changed otherwise (PTRACE_SETSIGMASK also forgets a mask that
// rt_sigsuspend would restore: only done when needed). release() gives the thread
// its mask back and throws NativeError if it cannot; a hold still held when it goes
// out of scope (an error on the way) gives it back as best it can and never throws,
// so that the error being thrown is the one reported.
class SignalHold {
 public:
  SignalHold(pid_t tid, uint64_t mask);
  ~SignalHold();
  SignalHold(const SignalHold&) = delete;
  SignalHold& operator=(const SignalHold&) = delete;
  void release();

 private:
  pid_t tid_;
  uint64_t mask_;
  bool held_;
};

// A thread at a syscall's entry stop (its registers there: atEntry) is put just
// before its `syscall` instruction (the call skipped: orig_rax -1), at a
// signal-delivery stop; returnToEntry runs that instruction again to the entry stop
// of the same call and gives it the registers it had there. Every signal is held
// meanwhile, so that none is delivered on the way. Failures throw NativeError.
void leaveEntry(pid_t tid, const user_regs_struct& atEntry);
void returnToEntry(pid_t tid, const user_regs_struct& atEntry);

// One syscall run in the stopped thread tid at the `syscall` instruction at insn,
// from any stop it may be in between two runs of the replay: a syscall's entry
// (left and gone back to), its exit, a signal-delivery stop (its siginfo kept, so
// that a signal delivered on resuming is the same one) or a single-step trap. Its
// registers, signal mask and stop are as they were afterwards; signals waiting for
// it stay queued. Refused (EBUSY, nothing changed): a thread at a seccomp stop or
// at a ptrace event's stop (inside a clone or an exec). Returns the call's result
// (a negative errno is the call's, not a failure).
int64_t injectSyscallInThread(pid_t tid, uint64_t insn, int64_t nr, const uint64_t args[6]);

}  // namespace rw
