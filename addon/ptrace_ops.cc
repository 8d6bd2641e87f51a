#include "ptrace_ops.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include <cstring>
#include <map>
#include <vector>

#include "tracer_thread.h"

namespace rw {
namespace {

[[noreturn]] void fail(const std::string& what) { throw NativeError{errno, what}; }

int openMemory(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/mem";
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) fail("open " + path);
  return fd;
}

// pread or pwrite through /proc/pid/mem: the caller's open file (reopened once when
// it belongs to an image the process has left by exec: the kernel then answers 0
// bytes), or one opened for this call.
template <typename Op>
ssize_t throughMemFile(pid_t pid, MemFile* file, Op op) {
  if (!file) {
    int fd = openMemory(pid);
    ssize_t n = op(fd);
    int e = errno;
    close(fd);
    errno = e;
    return n;
  }
  bool fresh = file->fd < 0;
  if (fresh) file->fd = openMemory(pid);
  ssize_t n = op(file->fd);
  if (n == 0 && !fresh) {
    file->reset();
    file->fd = openMemory(pid);
    n = op(file->fd);
  }
  return n;
}

}  // namespace

void MemFile::reset() {
  if (fd >= 0) close(fd);
  fd = -1;
}

Stop decodeStatus(pid_t pid, int status) {
  Stop s{};
  if (WIFEXITED(status)) {
    s.kind = Stop::kExited;
    s.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    s.kind = Stop::kKilled;
    s.sig = WTERMSIG(status);
  } else if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
    s.kind = Stop::kSyscall;
  } else if (status >> 16) {
    s.kind = Stop::kEvent;
    s.event = status >> 16;
    s.sig = WSTOPSIG(status);
  } else {
    s.kind = Stop::kSignal;
    s.sig = WSTOPSIG(status);
  }
  return s;
}

Stop waitStop(pid_t pid) {
  int status;
  if (takeStashed(pid, &status)) return decodeStatus(pid, status);
  for (;;) {
    pid_t r = waitpid(pid, &status, __WALL);
    if (r == pid) break;
    if (r < 0 && errno == EINTR) continue;
    fail("waitpid(" + std::to_string(pid) + ")");
  }
  return decodeStatus(pid, status);
}

void resume(pid_t pid, int request, int sig) {
  if (ptrace((__ptrace_request)request, pid, nullptr, (void*)(long)sig) != 0)
    fail("ptrace resume(" + std::to_string(pid) + ")");
}

user_regs_struct getRegs(pid_t pid) {
  user_regs_struct r;
  if (ptrace(PTRACE_GETREGS, pid, nullptr, &r) != 0) fail("ptrace(PTRACE_GETREGS, " + std::to_string(pid) + ")");
  return r;
}

void setRegs(pid_t pid, const user_regs_struct& r) {
  if (ptrace(PTRACE_SETREGS, pid, nullptr, &r) != 0) fail("ptrace(PTRACE_SETREGS, " + std::to_string(pid) + ")");
}

size_t readMemory(pid_t pid, uint64_t addr, void* out, size_t len, MemFile* file) {
  if (len == 0) return 0;
  struct iovec local = {out, len}, remote = {(void*)addr, len};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n == (ssize_t)len) return len;
  // Unreadable pages (PROT_NONE, guard pages) or a partial read: fall back to
  // /proc/pid/mem, which reads what the kernel can fault in.
  size_t done = n > 0 ? size_t(n) : 0;
  while (done < len) {
    ssize_t m = throughMemFile(pid, file, [&](int fd) { return pread(fd, (char*)out + done, len - done, (off_t)(addr + done)); });
    if (m <= 0) break;
    done += size_t(m);
  }
  return done;
}

void writeMemory(pid_t pid, uint64_t addr, const void* data, size_t len, MemFile* file) {
  size_t done = 0;
  if (!file && len) {
    // Without an open /proc/pid/mem, writable memory takes one call; what is left
    // (read-only code: breakpoints, patches) goes through the file.
    struct iovec local = {const_cast<void*>(data), len}, remote = {(void*)addr, len};
    ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (n > 0) done = size_t(n);
  }
  while (done < len) {
    ssize_t m = throughMemFile(pid, file, [&](int fd) { return pwrite(fd, (const char*)data + done, len - done, (off_t)(addr + done)); });
    if (m <= 0) {
      if (m == 0) errno = EFAULT;
      char hex[32];
      snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)(addr + done));
      fail(std::string("write tracee memory at ") + hex);
    }
    done += size_t(m);
  }
}

int64_t injectSyscall(pid_t pid, uint64_t insnAddr, int64_t nr, const uint64_t args[6]) {
  user_regs_struct saved = getRegs(pid), r = saved;
  r.rax = nr;
  r.orig_rax = -1;  // no syscall restart logic on the way out of the current stop
  r.rdi = args[0];
  r.rsi = args[1];
  r.rdx = args[2];
  r.r10 = args[3];
  r.r8 = args[4];
  r.r9 = args[5];
  r.rip = insnAddr;
  setRegs(pid, r);
  // a SIGSTOP still pending (a slice's or an interrupt's that came as a run ended at
  // a syscall stop) is reported before the instruction runs: swallow it, step again.
  // A seccomp filter the program inherited (a recorded child after its exec: the
  // syscall buffer's filter traces every other instruction) stops the call at its
  // entry first: it goes on to its single-step trap.
  Stop s;
  for (int tries = 0; tries < 4; tries++) {
    resume(pid, PTRACE_SINGLESTEP, 0);
    s = waitStop(pid);
    bool again = (s.kind == Stop::kSignal && s.sig == SIGSTOP) || (s.kind == Stop::kEvent && s.event == PTRACE_EVENT_SECCOMP);
    if (!again) break;
  }
  if (s.kind != Stop::kSignal || s.sig != SIGTRAP) {
    errno = EPROTO;
    fail("injected syscall " + std::to_string(nr) + " did not return to a single-step trap (stop kind " +
         std::to_string(s.kind) + ", signal " + std::to_string(s.sig) + ")");
  }
  int64_t result = (int64_t)getRegs(pid).rax;
  setRegs(pid, saved);
  return result;
}

namespace {
std::atomic<bool> tookTerminal{false};
}  // namespace

void restoreTerminal() {
  if (!tookTerminal.exchange(false)) return;
  // The caller is in a background group now: tcsetpgrp would stop it with SIGTTOU.
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  pthread_sigmask(SIG_BLOCK, &ttou, &old);
  tcsetpgrp(STDIN_FILENO, getpgrp());
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

pid_t spawnTracee(const SpawnOptions& o) {
  std::vector<char*> argv, envp;
  for (auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : o.envp) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int errPipe[2];
  if (pipe2(errPipe, O_CLOEXEC) != 0) fail("pipe2");
  int ttyFd = o.stdinFd >= 0 ? o.stdinFd : STDIN_FILENO;
  bool takeTerminal = o.newProcessGroup && isatty(ttyFd) && tcgetpgrp(ttyFd) == getpgrp();

  pid_t pid = fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    // Child: only async-signal-safe calls until execve.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    if (o.cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(o.cpu, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    if (o.stdinFd >= 0) dup2(o.stdinFd, 0);
    if (o.stdoutFd >= 0) dup2(o.stdoutFd, 1);
    if (o.stderrFd >= 0) dup2(o.stderrFd, 2);
    if (o.newProcessGroup) {
      setpgid(0, 0);
      if (takeTerminal) {
        signal(SIGTTOU, SIG_IGN);  // a background group may not take the terminal otherwise
        tcsetpgrp(0, getpid());
        signal(SIGTTOU, SIG_DFL);
      }
    }
    // Node opens its own stdio close-on-exec; the program must inherit it.
    for (int fd = 0; fd < 3; fd++) fcntl(fd, F_SETFD, 0);
    // Node makes its stdio pipes non-blocking, and the open file description is
    // shared: give the program the flag it would have had natively.
    for (int fd = 0; fd < 3; fd++) {
      int fl = o.nonBlocking[fd] < 0 ? -1 : fcntl(fd, F_GETFL);
      if (fl >= 0) fcntl(fd, F_SETFL, o.nonBlocking[fd] ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
    }
    syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
    if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) {
      int e = errno;
      (void)!write(errPipe[1], &e, sizeof e);
      _exit(127);
    }
    personality(ADDR_NO_RANDOMIZE);
    // the tracer thread it was forked from traps rdtsc (tracer_thread.cc): say both ways
    prctl(PR_SET_TSC, o.trapTsc ? PR_TSC_SIGSEGV : PR_TSC_ENABLE);
    ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    raise(SIGSTOP);
    execve(o.path.c_str(), argv.data(), envp.data());
    int e = errno;
    (void)!write(errPipe[1], &e, sizeof e);
    _exit(127);
  }
  close(errPipe[1]);
  if (o.newProcessGroup) setpgid(pid, pid);  // also here: no window where it is in ours
  if (takeTerminal) tookTerminal = true;
  auto childFailed = [&](const std::string& what) {
    int e = 0;
    ssize_t n = read(errPipe[0], &e, sizeof e);
    close(errPipe[0]);
    killTracee(pid);
    errno = n == sizeof e ? e : ECHILD;
    fail(what);
  };
  Stop s = waitStop(pid);
  if (s.kind != Stop::kSignal || s.sig != SIGSTOP) childFailed("start " + o.path);
  long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;
  if (o.traceForks) opts |= PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE;
  if (ptrace(PTRACE_SETOPTIONS, pid, nullptr, (void*)opts) != 0) {
    int e = errno;
    killTracee(pid);
    errno = e;
    fail("ptrace(PTRACE_SETOPTIONS)");
  }
  resume(pid, PTRACE_CONT, 0);
  s = waitStop(pid);
  if (s.kind != Stop::kEvent || s.event != PTRACE_EVENT_EXEC) childFailed("execute " + o.path);
  close(errPipe[0]);
  // Step to the return of execve: the state user code starts from.
  resume(pid, PTRACE_SYSCALL, 0);
  s = waitStop(pid);
  if (s.kind != Stop::kSyscall) {
    killTracee(pid);
    errno = EPROTO;
    fail("no execve return stop after exec of " + o.path);
  }
  return pid;
}

void reapKilled(pid_t tid) {
  for (;;) {
    int status;
    pid_t r = waitpid(tid, &status, __WALL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) break;
    ptrace(PTRACE_CONT, tid, nullptr, nullptr);
  }
}

namespace {
// The process's thread-group id (the leader's tid), or 0 when it is gone.
pid_t threadGroupOf(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", int(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  char line[256];
  int tgid = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "Tgid: %d", &tgid) == 1) break;
  std::fclose(f);
  return pid_t(tgid);
}
}  // namespace

bool tracedByThisThread(pid_t pid) {
  if (pid <= 0) return false;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", int(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return false;
  char line[256];
  long tracer = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "TracerPid: %ld", &tracer) == 1) break;
  std::fclose(f);
  return tracer == long(syscall(SYS_gettid));
}

bool killTracee(pid_t pid) {
  if (pid <= 0) return false;
  int status;
  if (takeStashed(pid, &status) && (WIFEXITED(status) || WIFSIGNALED(status))) return false;  // reaped already
  // Only a process this one may wait for (its tracee or child) is killed: waitpid
  // refuses any other pid (ECHILD), and then nothing is sent. A tracee's pid cannot
  // be reused until it is reaped here, so the signal reaches the process meant.
  pid_t r;
  while ((r = waitpid(pid, &status, WNOHANG | __WALL)) < 0 && errno == EINTR) {
  }
  if (r < 0) return false;
  if (r == pid && (WIFEXITED(status) || WIFSIGNALED(status))) return true;
  pid_t leader = threadGroupOf(pid);
  kill(pid, SIGKILL);
  // Each traced thread's exit is reported to the tracer, and a group leader is
  // reaped only after its other threads: those first. Listed after the kill: a
  // process with a fatal signal pending makes no threads.
  if (leader > 0)
    for (pid_t tid : threadIds(pid))
      if (tid != leader) reapKilled(tid);
  reapKilled(leader > 0 ? leader : pid);
  return true;
}

std::vector<pid_t> threadIds(pid_t pid) {
  std::vector<pid_t> tids;
  std::string path = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(path.c_str());
  if (!d) return tids;
  while (struct dirent* e = readdir(d)) {
    char* end;
    long tid = std::strtol(e->d_name, &end, 10);
    if (*end == 0 && tid > 0) tids.push_back(pid_t(tid));
  }
  closedir(d);
  std::sort(tids.begin(), tids.end());
  return tids;
}

std::vector<uint8_t> getXState(pid_t pid) {
  // the kernel answers its whole XSAVE layout (with AMX tiles, 11 KiB): ask for at
  // least what CPUID says the enabled features take
  uint32_t a = 0, b = 0, c = 0, d = 0;
  hostCpuid(0xd, 0, a, b, c, d);
  std::vector<uint8_t> buf(std::max<size_t>(16384, c));
  struct iovec iov = {buf.data(), buf.size()};
  if (ptrace(PTRACE_GETREGSET, pid, (void*)NT_X86_XSTATE, &iov) == 0) {
    buf.resize(iov.iov_len);
    return buf;
  }
  buf.resize(sizeof(user_fpregs_struct));
  if (ptrace(PTRACE_GETFPREGS, pid, nullptr, buf.data()) != 0) fail("ptrace(PTRACE_GETFPREGS)");
  return buf;
}

void setXState(pid_t pid, const std::vector<uint8_t>& data) {
  if (data.size() == sizeof(user_fpregs_struct)) {
    if (ptrace(PTRACE_SETFPREGS, pid, nullptr, data.data()) != 0) fail("ptrace(PTRACE_SETFPREGS)");
    return;
  }
  struct iovec iov = {const_cast<uint8_t*>(data.data()), data.size()};
  if (ptrace(PTRACE_SETREGSET, pid, (void*)NT_X86_XSTATE, &iov) != 0) fail("ptrace(PTRACE_SETREGSET, NT_X86_XSTATE)");
}

// The tracee's pending signals (private and shared queues), bit n-1 for signal n.
uint64_t pendingSignals(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", int(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  char line[256];
  uint64_t pending = 0;
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long mask = 0;
    if (std::sscanf(line, "SigPnd: %llx", &mask) == 1 || std::sscanf(line, "ShdPnd: %llx", &mask) == 1) pending |= mask;
  }
  std::fclose(f);
  return pending;
}

}  // namespace rw
