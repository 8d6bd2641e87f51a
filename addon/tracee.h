// One replayed process, as an object whose lifetime JS owns (tracee_exports.cc
// wraps it as the JS class `Tracee`): its pid, what the replay loop keeps of it
// (ReplaySession), its CPUID emulation (CpuidState) and its open /proc/pid/mem.
// JS makes one for the process it starts; the addon makes one for every process
// it creates (a fork copy, a child made again at its clone event) and hands it
// to JS. There is no table of tracees by pid: who holds the object holds the process.
//
// It is held by shared pointers: the JS object's, every job that uses it, and a
// Debugger's (debugger.h); only the tracer thread touches it. The process dies with
// it: close() kills it at once, and the last reference's destructor (always on the
// tracer thread: the JS finalizers hand their reference over there) kills it if
// close() did not, so a forgotten Tracee leaves no orphan.
//
// Threads: each thread of a replayed process has a Tracee of its own (its tid as
// pid), linked to the others of its process by ReplayThreads (replay_threads.h).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>

#include "cpuid_emulation.h"
#include "ptrace_ops.h"
#include "replay_session.h"

namespace rw {

struct Tracee : std::enable_shared_from_this<Tracee> {
  explicit Tracee(pid_t pid) : pid(pid) {}
  Tracee(const Tracee&) = delete;
  Tracee& operator=(const Tracee&) = delete;
  ~Tracee() { kill(); }

  const pid_t pid;
  ReplaySession replay;
  CpuidState cpuid;
  MemFile mem;
  // The process is gone and reaped (its exit was replayed, or kill()): its pid may
  // name another process by now, so nothing is sent to it any more.
  bool gone = false;

  size_t read(uint64_t addr, void* out, size_t len) { return readMemory(pid, addr, out, len, &mem); }
  void write(uint64_t addr, const void* data, size_t len) { writeMemory(pid, addr, data, len, &mem); }
  // SIGKILL and reap (once); the memory file is closed. The kill takes every thread
  // of the process: their Tracees are gone too (replay_threads.h), so that none
  // sends anything to its thread's tid, which may name another process by then.
  void kill() {
    if (!gone && killTracee(pid)) threadsKilled(replay.threads.get());
    gone = true;
    mem.reset();
  }
  // The process ended by itself (reaped by the loop that saw its end).
  void ended() {
    gone = true;
    mem.reset();
    replay = ReplaySession{};
  }
  // The object for `child`, a copy of this process made by fork: the same replay
  // state (ReplaySession::forkedCopy) and the same patched code.
  std::shared_ptr<Tracee> forkedAs(pid_t child) const {
    auto c = std::make_shared<Tracee>(child);
    c->replay = replay.forkedCopy();
    c->cpuid = cpuid;
    return c;
  }
};

using TraceePtr = std::shared_ptr<Tracee>;

}  // namespace rw
