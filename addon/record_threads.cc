// Threads while recording: see record_threads.h.
#include "record_threads.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstddef>

#include "cpuid_emulation.h"
#include "memory_io.h"
#include "record_buffer.h"
#include "record_processes.h"
#include "record_slices.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr int kThreadClone = 3;  // the clone event's ptrace event: PTRACE_EVENT_CLONE

// The calls that change the address space; and execve and execveat, which replace
// it (and end the other threads: one that ran user code meanwhile would be stopped
// and killed while the loop looks at it, record_thread_exec.h).
bool changesAddressSpace(int64_t nr) {
  switch (nr) {
    case SYS_mmap: case SYS_mprotect: case SYS_munmap: case SYS_brk: case SYS_mremap: case SYS_madvise:
    case SYS_shmat: case SYS_shmdt: case SYS_mlock: case SYS_munlock: case SYS_mlockall: case SYS_munlockall:
    case SYS_remap_file_pages: case SYS_mlock2: case SYS_pkey_mprotect:
    case SYS_execve: case SYS_execveat:
      return true;
    default:
      return false;
  }
}

ThreadGroup& groupFor(Recording& rec, pid_t tid, const Session& s) {
  ThreadGroup& g = rec.groups[groupOf(tid, s)];
  if (g.threads.empty()) g.threads.insert(groupOf(tid, s));
  return g;
}

}  // namespace

void adoptThread(Recording& rec, pid_t parent, pid_t child, RecordWriter& w, uint32_t& count) {
  Session& p = rec.procs[parent];
  uint64_t flags = p.entry.rdi;
  Stop st = waitStop(child);  // its attach stop (SIGSTOP), or its death
  // Per-process state is the parent's; per-thread state starts afresh.
  Session c;
  c.tgid = groupOf(parent, p);
  c.view = p.view;
  c.seccompMode = p.seccompMode;
  // Its own syscall buffer comes at its first buffered call (registered, as the
  // process's first thread's was); the process's `traced` word is shared.
  c.procBufAddr = p.procBufAddr;
  c.procBufSize = p.procBufSize;
  c.untracedAfter = p.untracedAfter;
  c.tracedAfter = p.tracedAfter;
  c.syscallInsn = p.syscallInsn;
  c.mappedFiles = p.mappedFiles;
  c.writableMapped = p.writableMapped;
  c.watchingShared = p.watchingShared;
  c.shared = p.shared;
  c.parent = p.parent;
  c.orderStdio = p.orderStdio;
  c.echoIds[0] = p.echoIds[0];
  c.echoIds[1] = p.echoIds[1];
  c.threaded = p.threaded = true;
  c.cpuid = p.cpuid;
  rec.procs[child] = c;
  ThreadGroup& g = groupFor(rec, parent, p);

  ChildWrites writes;
  bool alive = st.kind != Stop::kExited && st.kind != Stop::kKilled;
  if (alive) {
    // Its exit is recorded at PTRACE_EVENT_EXIT (threadExitStatus).
    long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL | PTRACE_O_TRACEFORK |
                PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXIT |
                (p.seccompMode ? PTRACE_O_TRACESECCOMP : 0);
    if (ptrace(PTRACE_SETOPTIONS, child, nullptr, (void*)opts) != 0)
      throw NativeError{errno, "ptrace(PTRACE_SETOPTIONS) on new thread " + std::to_string(child)};
    addChildSettid(child, p, flags, writes);
    if (p.procBufAddr) {
      // A buffer per thread: from now on calls that may block go traced (tracedWanted;
      // what was traced stays so), in the thread's memory and so in the replay's too.
      uint32_t traced = 0;
      uint64_t at = p.procBufAddr + offsetof(BufHeader, traced);
      readMemory(child, at, &traced, 4);
      traced = tracedWanted(c) | (traced & kTracedAll);
      writeMemory(child, at, &traced, 4);
      writes.push_back({at, std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&traced),
                                                 reinterpret_cast<uint8_t*>(&traced) + 4)});
    }
    g.threads.insert(child);
    rec.held.insert(child);
  }
  writeCloneEvent(w, parent, child, kThreadClone, flags, writes);
  count++;
  if (!alive) {
    size_t at = w.begin(kEvExit, 0, uint32_t(child));
    w.u32(st.kind == Stop::kExited ? 0 : 1);
    w.u32(uint32_t(st.kind == Stop::kExited ? st.code : st.sig));
    w.end(at);
    count++;
    rec.procs.erase(child);
  }
}

void threadStopped(Recording& rec, pid_t tid, const Session& s, const Stop& st) {
  auto it = rec.groups.find(groupOf(tid, s));
  if (it == rec.groups.end() || it->second.runner != tid) return;
  bool entry = (st.kind == Stop::kSyscall && !s.inSyscall) ||
               (st.kind == Stop::kEvent && (st.event == PTRACE_EVENT_SECCOMP || st.event == PTRACE_EVENT_EXIT)) ||
               st.kind == Stop::kExited || st.kind == Stop::kKilled;
  if (entry) it->second.runner = 0;
}

bool mayResume(Recording& rec, pid_t tid, const Session& s) {
  if (!s.exitPending && (s.inSyscall || s.dying)) return true;
  auto it = rec.groups.find(groupOf(tid, s));
  if (it == rec.groups.end()) return true;  // one thread: nothing to order
  ThreadGroup& g = it->second;
  if (g.runner == 0 || g.runner == tid) {
    g.runner = tid;
    return true;
  }
  for (pid_t r : g.ready)
    if (r == tid) return false;
  g.ready.push_back(tid);
  return false;
}

std::vector<pid_t> nextRunners(Recording& rec) {
  std::vector<pid_t> out;
  for (auto& [tgid, g] : rec.groups) {
    while (g.runner == 0 && !g.ready.empty()) {
      size_t pick = readyChoice(rec, g.ready.size());  // the first, or a random one (--chaos)
      pid_t next = g.ready[pick];
      g.ready.erase(g.ready.begin() + long(pick));
      if (!rec.procs.count(next)) continue;
      g.runner = next;
      out.push_back(next);
    }
  }
  return out;
}

void markEntry(Recording& rec, pid_t tid, const Session& s, int64_t nr, RecordWriter& w, uint32_t& count) {
  if (!s.threaded) return;
  size_t start = w.begin(kEvEnter, 0, uint32_t(tid));
  w.u32(uint32_t(nr));
  w.end(start);
  count++;
  // A call that changes the address space never blocks: its thread keeps the
  // process through it, so no other thread's run (or its mmap) falls inside it.
  // Replay makes such a call at its exit event; had another thread's mmap taken
  // the range this munmap was freeing in the kernel meanwhile, replay would make
  // the munmap after the mmap and unmap the new mapping (seen as a later mprotect
  // failing with ENOMEM).
  if (changesAddressSpace(nr)) {
    auto it = rec.groups.find(groupOf(tid, s));
    if (it != rec.groups.end() && it->second.runner == 0) it->second.runner = tid;
  }
}

bool threadExitStatus(pid_t tid, const Session& s, Stop& death) {
  if (groupOf(tid, s) == tid || s.exitRecorded) return false;
  unsigned long status = 0;
  if (ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &status) != 0) return false;
  int ws = int(status);
  if (WIFEXITED(ws)) {
    death.kind = Stop::kExited;
    death.code = WEXITSTATUS(ws);
  } else if (WIFSIGNALED(ws)) {
    death.kind = Stop::kKilled;
    death.sig = WTERMSIG(ws);
  } else {
    return false;
  }
  return true;
}

void threadGone(Recording& rec, pid_t tid, const Session& s) {
  auto it = rec.groups.find(groupOf(tid, s));
  if (it == rec.groups.end()) return;
  ThreadGroup& g = it->second;
  g.threads.erase(tid);
  if (g.runner == tid) g.runner = 0;
  for (auto r = g.ready.begin(); r != g.ready.end();) r = *r == tid ? g.ready.erase(r) : r + 1;
  if (g.threads.empty()) rec.groups.erase(it);
}

void shareMappedFiles(Recording& rec, pid_t tid, const Session& s) {
  auto it = rec.groups.find(groupOf(tid, s));
  if (it == rec.groups.end()) return;
  for (pid_t t : it->second.threads) {
    auto o = rec.procs.find(t);
    if (o == rec.procs.end() || t == tid) continue;
    o->second.mappedFiles = s.mappedFiles;
    o->second.writableMapped = s.writableMapped;
  }
}

size_t threadCount(const Recording& rec, pid_t tid, const Session& s) {
  auto it = rec.groups.find(groupOf(tid, s));
  return it == rec.groups.end() ? 1 : it->second.threads.size();
}

}  // namespace rw
