// Ptrace primitives used on the tracer thread. Failures throw NativeError.
#pragma once
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <string>
#include <vector>

namespace rw {

struct Stop {
  enum Kind { kSyscall, kSignal, kEvent, kExited, kKilled } kind;
  int sig = 0;     // kSignal: the signal; kKilled: the fatal signal
  int event = 0;   // kEvent: PTRACE_EVENT_*
  int code = 0;    // kExited: exit status
};

Stop waitStop(pid_t pid);
Stop decodeStatus(pid_t pid, int status);
void resume(pid_t pid, int request, int sig);
user_regs_struct getRegs(pid_t pid);
void setRegs(pid_t pid, const user_regs_struct& regs);

// A process's /proc/pid/mem, kept open by its owner (a Tracee, tracee.h): opened
// at the first use, reopened after an exec (the old file reads nothing then),
// closed with its owner.
struct MemFile {
  int fd = -1;
  MemFile() = default;
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  ~MemFile() { reset(); }
  void reset();
};

// Reads as much as is readable; returns the byte count. Without a MemFile, a
// /proc/pid/mem needed (unreadable pages for process_vm_readv, read-only pages
// for process_vm_writev) is opened for the call.
size_t readMemory(pid_t pid, uint64_t addr, void* out, size_t len, MemFile* file = nullptr);
void writeMemory(pid_t pid, uint64_t addr, const void* data, size_t len, MemFile* file = nullptr);
int openMemory(pid_t pid);

// Runs one syscall in a stopped tracee by pointing rip at a `syscall` instruction
// at insnAddr and single-stepping; registers are restored afterwards.
int64_t injectSyscall(pid_t pid, uint64_t insnAddr, int64_t nr, const uint64_t args[6]);

struct SpawnOptions {
  std::string path;
  std::vector<std::string> argv, envp;
  std::string cwd;
  int cpu = -1;
  bool trapTsc = true;
  bool traceForks = false;
  int stdinFd = -1, stdoutFd = -1, stderrFd = -1;  // -1: inherit
  // O_NONBLOCK for fds 0, 1, 2 in the program: 0 off, 1 on, -1 as it is.
  int nonBlocking[3] = {-1, -1, -1};
  // Its own process group, so that kill(0, ...) by the program reaches neither the
  // recorder nor anything else outside it. When the recorder's stdin is a terminal
  // and the recorder is in its foreground, the program's group gets the terminal
  // (Ctrl-C goes to the program, as natively); restoreTerminal() takes it back.
  bool newProcessGroup = false;
};

// Gives the terminal back to the caller's process group after a spawn with
// newProcessGroup took it. Runs on the JS thread.
void restoreTerminal();

// Forks and execs the program stopped at the return of its execve.
pid_t spawnTracee(const SpawnOptions& opts);

// SIGKILL and reap, every thread of the process (each traced thread's exit is
// reported to the tracer, and a group leader is reaped only after the others).
// Harmless on a pid that is gone or that is not this process's tracee or child
// (nothing is sent): returns whether it killed or reaped one.
bool killTracee(pid_t pid);
// Waits for the death of a tracee that was killed (or whose process an exec ends).
// A stop reported first (one it had made before the kill, an exit event) is let
// go on until the death itself.
void reapKilled(pid_t tid);
// The process is traced by the calling thread (its TracerPid): on the tracer
// thread, whether it is one of ours.
bool tracedByThisThread(pid_t pid);

// The ids of the threads of pid's process (/proc/pid/task), in ascending order;
// empty when it is gone.
std::vector<pid_t> threadIds(pid_t pid);

// The XSAVE area (PTRACE_GETREGSET NT_X86_XSTATE), or the 512-byte FXSAVE area on
// a CPU without XSAVE; setXState takes either back.
std::vector<uint8_t> getXState(pid_t pid);
void setXState(pid_t pid, const std::vector<uint8_t>& data);

// The tracee's pending signals (private and shared queues), bit n-1 for signal n.
uint64_t pendingSignals(pid_t pid);

}  // namespace rw
