// The record loop: runs the traced processes from stop to stop and encodes each
// syscall (by the declarative table), signal and rdtsc into trace events, each
// tagged with its process. The pieces it relies on: record_processes.cc (every
// process of the recording, waiting for any of them), record_signals.cc (signal
// stops), record_views.cc (what the program sees of the recorder),
// record_buffer.cc (the in-process syscall buffer), record_children.cc (children
// that run live, REWIND_CHILDREN=live).
#include "record_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <unistd.h>

#include <cstdio>
#include <atomic>
#include <cstring>
#include <map>

#include "event_format.h"
#include "memory_io.h"
#include "ptrace_ops.h"
#include "record_buffer.h"
#include "record_children.h"
#include "record_files.h"
#include "record_images.h"
#include "record_preempt.h"
#include "record_processes.h"
#include "cpuid_emulation.h"
#include "record_session.h"
#include "record_shared.h"
#include "record_signals.h"
#include "record_slices.h"
#include "record_threads.h"
#include "record_thread_exec.h"
#include "record_views.h"
#include "tracer_thread.h"

namespace rw {

namespace {

constexpr uint64_t kCloneThread = 0x00010000;
constexpr double kHandOverMs = 5;
constexpr int kNrClone = 56, kNrIoctl = 16, kNrPrctl = 157, kNrSeccomp = 317;
constexpr int kNrFork = 57, kNrVfork = 58, kNrMunmap = 11, kNrMprotect = 10, kNrRestartSyscall = 219;
constexpr int64_t kRestartBlock = -516;  // -ERESTART_RESTARTBLOCK
constexpr uint64_t kMapShared = 0x01, kMapAnonymous = 0x20;

// A syscall number the table does not know is run, and recorded if the kernel
// does not know it either (ENOSYS, nothing written): this row stands for it.
const Row kUnknownNumber = {kEmulate, kCheckNone, 0, 0, {}};

const Row* rowFor(const std::vector<Row>& table, int64_t nr) {
  if (nr < 0 || nr >= int64_t(table.size())) return nullptr;
  const Row* r = &table[size_t(nr)];
  return r->action == kUnknown ? nullptr : r;
}

bool isError(int64_t v) { return v < 0 && v >= -4095; }

// Returns a non-empty reason when the call cannot be recorded.
std::string atEntry(pid_t pid, Session& s, const Row& row, int64_t nr, const uint64_t a[6]) {
  s.annul = false;
  s.generic = row.action == kGeneric;
  if (row.action == kUnsupported) return "it cannot be replayed faithfully yet";
  if (row.action == kRefuse) {
    s.annul = true;
    s.forcedResult = -ENOSYS;
    user_regs_struct r = s.entry;
    r.orig_rax = uint64_t(-1);
    setRegs(pid, r);
  }
  std::string why = viewAtEntry(pid, s, nr, a);
  if (!why.empty()) return why;
  if (nr == kNrIoctl && ioctlNeedsGeneric(a[1])) s.generic = true;
  // restart_syscall goes on with the call a signal interrupted: it writes what that
  // call writes. (Comparing all memory instead also took the stores other threads
  // made meanwhile, and replay wrote those back at the wrong time.)
  if (nr == kNrRestartSyscall && s.restarting.nr >= 0) s.generic = false;
  else s.restarting.nr = -1;
  if (s.generic) s.snapshot = snapshotWritable(pid);
  s.checkLen = s.checkCrc = 0;
  if (row.check != kCheckNone) {
    std::vector<uint8_t> in = gatherInput(pid, row.check, a, 1ull << 30);
    s.checkLen = uint32_t(in.size());
    s.checkCrc = crc32(0, in.data(), in.size());
  }
  return "";
}

bool isForkLike(int64_t nr) { return nr == kNrClone || nr == kNrFork || nr == kNrVfork; }

// `restarted`: for restart_syscall, the row of the call it goes on with (its outputs).
void appendSyscall(pid_t pid, Session& s, const Row& row, int64_t nr, int64_t result, RecordWriter& w,
                   const Row* restarted = nullptr) {
  uint64_t a[6];
  args6(s.entry, a);
  uint8_t flags = (s.annul ? kSysAnnulledInRecord : 0) | (s.generic ? kSysGenericCapture : 0) |
                  echoFlag(pid, s, nr, a[0]);
  // An exec from another thread is that thread's call (record_thread_exec.h).
  size_t start = w.begin(kEvSyscall, flags, uint32_t(s.execFormerTid ? s.execFormerTid : pid));
  w.u32(uint32_t(nr));
  size_t nwritesAt = w.size();
  w.u32(0);
  for (int i = 0; i < 6; i++) w.u64(a[i]);
  w.u64(uint64_t(result));
  w.u32(s.checkLen);
  w.u32(s.checkCrc);
  uint32_t n = s.generic   ? emitDifferences(pid, s.snapshot, w)
               : restarted ? captureOutputs(pid, *restarted, s.restarting.args, result, w)
                           : captureOutputs(pid, row, a, result, w);
  if (row.action != kExit && !s.execed) {
    n += appendSharedChanges(pid, s, w);
    n += appendBufferWrites(pid, s, w);
  }
  w.patchU32(nwritesAt, n);
  w.end(start);
  s.snapshot.clear();
}

// (st_dev, st_ino) of the regular file behind the tracee's fd, if it is one that is
// not an ELF image (libraries are mapped by ld.so and not written to).
bool dataFileIdentity(pid_t pid, int fd, std::pair<uint64_t, uint64_t>& id) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  id = {uint64_t(st.st_dev), uint64_t(st.st_ino)};
  return true;
}

// The tracee's fd was opened for writing (O_WRONLY or O_RDWR in /proc/PID/fdinfo).
bool openedForWriting(pid_t pid, int fd) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd)).c_str(), "r");
  if (!f) return true;
  char line[128];
  unsigned flags = 0;
  bool found = false;
  while (!found && std::fgets(line, sizeof line, f)) found = std::sscanf(line, "flags: %o", &flags) == 1;
  std::fclose(f);
  return !found || (flags & O_ACCMODE) != O_RDONLY;
}

bool isElfFile(pid_t pid, int fd) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  int f = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f < 0) return false;
  char magic[4] = {0, 0, 0, 0};
  ssize_t n = pread(f, magic, 4, 0);
  close(f);
  return n == 4 && std::memcmp(magic, "\x7f" "ELF", 4) == 0;
}

// The stop JS handles after a successful mmap of a file or of shared memory.
void mmapStop(const Session& s, int64_t result, LoopResult& out) {
  out.stop.reason = "mmap-file";
  out.stop.num("fd", int64_t(int32_t(s.entry.r8)));
  out.stop.big("addr", uint64_t(result));
  out.stop.big("length", s.entry.rsi);
  out.stop.big("offset", s.entry.r9);
  out.stop.num("prot", int64_t(s.entry.rdx));
  out.stop.num("flags", int64_t(s.entry.r10));
}

// The records of a death: exit/exit_group never return, so the call is recorded
// here (replay checks its arguments), then the exit event.
void recordDeath(pid_t pid, Session& s, const Stop& st, const std::vector<Row>& table, RecordWriter& w,
                 uint32_t& count) {
  if (s.inSyscall && rowFor(table, int64_t(s.entry.orig_rax)) && table[size_t(s.entry.orig_rax)].action == kExit) {
    appendSyscall(pid, s, table[size_t(s.entry.orig_rax)], int64_t(s.entry.orig_rax), 0, w);
    count++;
  }
  size_t start = w.begin(kEvExit, 0, uint32_t(pid));
  w.u32(st.kind == Stop::kExited ? 0 : 1);
  w.u32(uint32_t(st.kind == Stop::kExited ? st.code : st.sig));
  w.end(start);
  count++;
  s.exitRecorded = true;
}

}  // namespace

void recordKillAll(Recording& rec) {
  for (auto& [p, s] : rec.procs) {
    killTracee(p);
  }
  rec.procs.clear();
  rec.groups.clear();
  rec.held.clear();
  rec.ended = true;
}

namespace {

// The recording ends now (requested): what the stopped process buffered is kept,
// then every recorded process dies; live children live on, as when a parent is killed.
LoopResult stopAll(Recording& rec, pid_t pid, Session& s, RecordWriter& w, LoopResult& out) {
  flushBuffer(pid, s, w, out.eventCount);
  std::vector<uint64_t> left;
  for (auto& [p, ps] : rec.procs)
    for (pid_t c : releaseChildren(ps)) left.push_back(uint64_t(c));
  recordKillAll(rec);
  if (!left.empty()) out.stop.bigs("children", left);
  out.stop.reason = "stopped";
  return out;
}

// A stop JS handles names the process it is about.
LoopResult& withPid(LoopResult& out, pid_t pid) {
  out.stop.num("pid", pid);
  return out;
}

// The root's end, reported once every other process has ended or been released.
void rootEnded(Recording& rec, LoopResult& out) {
  std::vector<uint64_t> left;
  for (pid_t c : rec.released) left.push_back(uint64_t(c));
  if (!left.empty()) out.stop.bigs("children", left);
  out.stop.reason = rec.rootKilled ? "killed" : "exited";
  out.stop.num(rec.rootKilled ? "signal" : "code", rec.rootStatus);
}

}  // namespace

namespace {

// The stop the loop is handling, and where the trace stood before it (recordRun).
struct StopMark {
  pid_t pid = 0;
  size_t bytes = 0;
  uint32_t count = 0;
};

LoopResult recordStops(Recording& rec, const std::vector<Row>& table, size_t maxBytes, LoopResult& out,
                       StopMark& mark) {
  const pid_t root = rec.root;
  RecordWriter w(out.events);
  double t0 = nowMs();

  while (out.events.size() < maxBytes) {
    resumeHeld(rec, [&](pid_t p, Session& ps) { recordDeath(p, ps, ps.death, table, w, out.eventCount); });
    auto [pid, st] = waitAnyRecorded(rec);
    mark = {pid, out.events.size(), out.eventCount};
    Session& s = rec.procs[pid];
    if (!s.resumedWithSignal || st.kind != Stop::kSignal) endSignalChain(s);
    s.resumedWithSignal = false;
    threadStopped(rec, pid, s, st);
    rec.held.insert(pid);  // resumed at the top of the loop, or by the next run
    if (rec.stopRequested && st.kind != Stop::kExited && st.kind != Stop::kKilled) return stopAll(rec, pid, s, w, out);
    if (st.kind != Stop::kExited && st.kind != Stop::kKilled && vanishedInExec(rec, pid, s)) {
      rec.held.erase(pid);  // a sibling's exec ended it meanwhile (record_thread_exec.h)
      continue;
    }

    if (st.kind == Stop::kExited || st.kind == Stop::kKilled) {
      rec.held.erase(pid);
      if (!s.exitRecorded) recordDeath(pid, s, st, table, w, out.eventCount);
      threadGone(rec, pid, s);
      // Children still traced (seccomp mode) go to the helper, which serves them.
      for (pid_t c : releaseChildren(s)) rec.released.push_back(c);
      rec.procs.erase(pid);
      endStdioWrite(rec, pid);
      rec.releasing.erase(pid);
      if (pid == root) {
        rec.rootEnded = true;
        rec.rootKilled = st.kind == Stop::kKilled;
        rec.rootStatus = st.kind == Stop::kExited ? st.code : st.sig;
        // Processes that outlive the program are handed over, as a daemon lives on.
        beginRelease(rec);
      }
      if (rec.rootEnded && rec.procs.empty()) {
        rootEnded(rec, out);
        rec.ended = true;
        return out;
      }
      continue;
    }
    if (rec.releasing.count(pid) && releaseAtStop(rec, pid, s, st)) {
      rec.held.erase(pid);
      if (rec.procs.empty()) {
        rootEnded(rec, out);
        rec.ended = true;
        return out;
      }
      continue;
    }

    if (st.kind == Stop::kEvent && st.event == PTRACE_EVENT_EXIT) {
      // A thread other than the first dies: its exit is recorded at its turn (record_threads.h).
      s.exitPending = threadExitStatus(pid, s, s.death);
      s.dying = true;
      // One the exec of another thread ends dies at once (record_thread_exec.h).
      if (s.exitPending && endedByExec(rec, pid, s)) {
        recordDeath(pid, s, s.death, table, w, out.eventCount);
        s.exitPending = false;
      }
      continue;
    }
    bool seccompEntry = st.kind == Stop::kEvent && st.event == PTRACE_EVENT_SECCOMP;
    if (st.kind == Stop::kSyscall || seccompEntry) {
      user_regs_struct r = getRegs(pid);
      int64_t nr = int64_t(r.orig_rax);
      if (!s.inSyscall) {
        flushBuffer(pid, s, w, out.eventCount);
        markEntry(rec, pid, s, nr, w, out.eventCount);
        s.entry = r;
        s.atExit = false;
        uint64_t a[6];
        args6(r, a);
        if (nr == kNrPrctl && a[0] == kBufMagic) {
          // The preload library registers its buffer. After an exec, under the filter
          // an earlier image installed, it uses that filter's untraced instruction (a
          // page at a fixed address, docs/syscallbuf.md): told so, it installs none.
          bool ok = !s.bufAddr && a[2] > kBufHeader;
          bool filtered = s.seccompMode;
          if (ok) {
            s.bufAddr = a[1];
            s.bufCapacity = a[2] - kBufHeader;
            s.untracedAfter = filtered ? kUntracedPageAfter : a[3];
            s.tracedAfter = a[4];
            s.flushed = 0;
          }
          s.annul = true;
          s.generic = false;
          s.exitFix = ExitFix::kNone;
          s.checkLen = s.checkCrc = 0;
          s.forcedResult = !ok ? -EINVAL : filtered ? kBufMagicFiltered : kBufMagicOk;
          r.orig_rax = uint64_t(-1);
          setRegs(pid, r);
          s.inSyscall = true;
          continue;
        }
        // A number the table does not know is run: the kernel most likely fails it
        // with ENOSYS, which is recorded (checked at the exit).
        const Row* row = rowFor(table, nr);
        std::string why = atEntry(pid, s, row ? *row : kUnknownNumber, nr, a);
        if (!why.empty()) {
          out.stop.reason = "unsupported";
          out.stop.num("nr", nr);
          out.stop.str("why", why);
          return withPid(out, pid);
        }
        s.inSyscall = true;
        s.syscallInsn = r.rip - 2;
        if (isForkLike(nr) && rec.recordChildren) s.orderStdio = true;
        bool thread = nr == kNrClone && (a[0] & kCloneThread);
        if (isForkLike(nr) && !thread && !s.watchingShared) watchSharedMemory(pid, s);
        if (s.bufAddr && isForkLike(nr) && !thread) {
          // A vfork child shares the buffer: keep the library off it until the call returns.
          uint32_t one = 1;
          writeMemory(pid, s.bufAddr + 12, &one, 4);
          s.clearDisabled = true;
        }
        if (s.deferredSig) {
          // queued now, delivered when the call returns (a seccomp stop cannot inject)
          if (seccompEntry) syscall(SYS_tkill, pid, s.deferredSig);
          else s.pendingSig = s.deferredSig;
        }
        if (s.orderStdio && echoFlag(pid, s, nr, a[0]) && holdStdioWrite(rec, pid)) continue;
        // This call may block for long: hand what is encoded to the trace writer
        // first, so a recorder killed meanwhile loses at most a few milliseconds.
        if (out.events.size() && nowMs() - t0 > kHandOverMs) break;
        continue;
      }
      // Syscall exit.
      s.inSyscall = false;
      endStdioWrite(rec, pid);
      nr = int64_t(s.entry.orig_rax);
      if (s.annul) {
        r.rax = uint64_t(s.forcedResult);
        setRegs(pid, r);
      }
      viewAtExit(pid, s, r);
      const Row* known = rowFor(table, nr);
      int64_t result = int64_t(r.rax);
      if (!known && result != -ENOSYS) {
        out.stop.reason = "unknown-syscall";
        out.stop.num("nr", nr);
        out.stop.big("result", uint64_t(result));
        return withPid(out, pid);
      }
      const Row& row = known ? *known : kUnknownNumber;
      if (row.action == kMmap || row.action == kMremap || nr == kNrMunmap || nr == kNrMprotect || row.action == kExec)
        s.sharedMapsChanged = true;
      if (row.action == kMmap && !isError(result) && !(s.entry.r10 & kMapAnonymous)) {
        std::pair<uint64_t, uint64_t> id;
        int fd = int(int32_t(s.entry.r8));
        if (dataFileIdentity(pid, fd, id) && !isElfFile(pid, fd)) {
          s.mappedFiles.insert(id);
          s.writableMapped |= (s.entry.r10 & kMapShared) || openedForWriting(pid, fd);
          shareMappedFiles(rec, pid, s);
        }
      }
      const Row* restarted = nr == kNrRestartSyscall && s.restarting.nr >= 0 ? rowFor(table, s.restarting.nr) : nullptr;
      appendSyscall(pid, s, row, nr, result, w, restarted);
      out.eventCount++;
      // Interrupted, to go on with restart_syscall (ERESTART_RESTARTBLOCK): what it writes.
      if (result == kRestartBlock && nr != kNrRestartSyscall) {
        s.restarting.nr = nr;
        args6(s.entry, s.restarting.args);
      }
      s.atExit = true;
      s.exitRegs = r;
      if (nr == kNrSeccomp && !s.seccompMode && s.bufAddr && s.entry.rip == s.tracedAfter && result == 0) {
        // The preload library's filter is in: from now on only traced calls stop.
        long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL | PTRACE_O_TRACEFORK |
                    PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACESECCOMP;
        if (ptrace(PTRACE_SETOPTIONS, pid, nullptr, (void*)opts) != 0)
          throw NativeError{errno, "ptrace(PTRACE_SETOPTIONS, PTRACE_O_TRACESECCOMP)"};
        s.seccompMode = true;
      }
      if (row.action == kExec && s.execed) {
        s.bufAddr = 0;  // gone with the old image; the filter stays (all calls traced)
        s.flushed = 0;
        s.clearDisabled = false;
        s.execed = false;
        s.execFormerTid = 0;
        out.stop.reason = "exec";
        if (rec.cpuidFaultingAtExec) {  // reset by the exec: what src/cpuid/recording.ts did after this stop
          s.cpuid.answers = rec.cpuidExecAnswers;
          out.stop.num("cpuidFaulting", cpuidEnableFaulting(pid, s.cpuid) ? 1 : 0);
        }
        return withPid(out, pid);
      }
      if (row.action == kMmap && !isError(result) && (!(s.entry.r10 & kMapAnonymous) || (s.entry.r10 & kMapShared))) {
        if (writeKnownImageMap(rec.images, pid, s, result, w, out.eventCount)) continue;
        mmapStop(s, result, out);
        return withPid(out, pid);
      }
      if (row.action == kMremap && !isError(result) && s.entry.rdx > s.entry.rsi) {
        // Grown: the new part may show more of a file.
        out.stop.reason = "mremap-grow";
        out.stop.big("addr", uint64_t(result));
        out.stop.big("oldLength", s.entry.rsi);
        out.stop.big("length", s.entry.rdx);
        return withPid(out, pid);
      }
      if (!isError(result) && !s.mappedFiles.empty() && fileChangeStop(pid, s, nr, result, out)) return withPid(out, pid);
      continue;
    }

    if (st.kind == Stop::kEvent) {
      if (st.event == PTRACE_EVENT_EXEC) {
        unsigned long former = 0;
        ptrace(PTRACE_GETEVENTMSG, pid, nullptr, &former);
        if (former && pid_t(former) != pid) execFromThread(rec, pid, pid_t(former));  // s is now former's
        s.execed = true;
        s.syscallInsn = 0;
      } else if (st.event == PTRACE_EVENT_FORK || st.event == PTRACE_EVENT_VFORK ||
                 st.event == PTRACE_EVENT_CLONE) {
        unsigned long child = 0;
        ptrace(PTRACE_GETEVENTMSG, pid, nullptr, &child);
        bool thread = st.event == PTRACE_EVENT_CLONE && (s.entry.rdi & kCloneThread);
        if (child && thread)
          adoptThread(rec, pid, pid_t(child), w, out.eventCount);
        else if (child && rec.recordChildren)
          adoptRecordedChild(rec, pid, pid_t(child), st.event, w, out.eventCount);
        else if (child)
          adoptForkChild(pid, pid_t(child), st.event == PTRACE_EVENT_VFORK, s);
      }
      continue;  // group-stop and other event stops: resume
    }

    // The recorder's SIGSTOP at the end of a runner's slice (record_slices.h).
    if (int p = preemptStop(rec, pid, s, st, out)) {
      if (p == 1) continue;
      flushBuffer(pid, s, w, out.eventCount);
      return withPid(out, pid);
    }
    onSignalStop(pid, s, st, table, w, out.eventCount);
    if (asyncPointStop(pid, s, out)) return withPid(out, pid);
  }
  out.stop.reason = "batch";
  return out;
}

}  // namespace

LoopResult recordRun(Recording& rec, const std::vector<Row>& table, size_t maxBytes) {
  const pid_t root = rec.root;
  if (rec.ended) throw NativeError{EINVAL, "the recording of process " + std::to_string(root) + " has ended"};
  if (!rec.started) {
    rec.started = true;
    rec.procs[root].view = initialView();
    noteStdio(root, rec.procs[root]);
    rec.held.insert(root);
  }
  LoopResult out;
  for (;;) {
    StopMark mark;
    try {
      return recordStops(rec, table, maxBytes, out, mark);
    } catch (const NativeError& e) {
      // A sibling's exec ended the thread while its stop was handled: the stop's
      // records are taken back, as if it had never stopped (record_thread_exec.h).
      if (!takeBackStop(rec, mark.pid, e.err)) throw;
      out.events.resize(mark.bytes);
      out.eventCount = mark.count;
    }
  }
}

}  // namespace rw
