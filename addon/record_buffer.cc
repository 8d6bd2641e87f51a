// The recorder's side of the in-process syscall buffer: see record_buffer.h.
#include "record_buffer.h"
#include "record_processes.h"

#include <errno.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "ptrace_ops.h"
#include "record_desched.h"
#include "record_threads.h"
#include "tracer_thread.h"

namespace rw {

void flushBuffer(pid_t pid, Session& s, RecordWriter& w, uint32_t& count) {
  // (a thread's own buffer: the records of its runs, tagged with its tid)
  if (!s.bufAddr) return;
  BufHeader h{};
  if (readMemory(pid, s.bufAddr, &h, sizeof h) != sizeof h) return;
  if (h.used > s.bufCapacity) throw NativeError{EPROTO, "syscall buffer header is corrupt"};
  if (h.used <= s.flushed) return;
  std::vector<uint8_t> bytes(h.used - s.flushed);
  if (readMemory(pid, s.bufAddr + kBufHeader + s.flushed, bytes.data(), bytes.size()) != bytes.size())
    throw NativeError{EPROTO, "cannot read the syscall buffer"};
  size_t at = 0;
  while (at < bytes.size()) {
    RecordView v{bytes.data() + at, 0};
    if (bytes.size() - at < kSyscallFixed) throw NativeError{EPROTO, "syscall buffer record is truncated"};
    uint32_t size = v.size();
    if (size < kSyscallFixed || size > bytes.size() - at || v.kind() != kEvSyscall)
      throw NativeError{EPROTO, "syscall buffer record is corrupt"};
    uint32_t tid = uint32_t(pid);
    std::memcpy(bytes.data() + at + 8, &tid, 4);
    bytes[at + 5] |= echoFlag(pid, s, int64_t(v.get32(12)), v.get64(20));
    w.bytes(bytes.data() + at, size);
    count++;
    at += size;
  }
  s.flushed = h.used;
}

// How far the library's frames reach below and above a thread's stack pointer (its
// entry's frame, rw_handle's, a call's; the red zone it steps over).
constexpr uint64_t kLibraryFramesBelow = 4096, kLibraryFramesAbove = 1024;

std::vector<uint64_t> bufferRanges(const Recording& rec, pid_t pid, const Session& s) {
  std::vector<uint64_t> out;
  auto add = [&](uint64_t start, uint64_t size) {
    if (start) out.insert(out.end(), {start & ~uint64_t(4095), (start + size + 4095) & ~uint64_t(4095)});
  };
  add(s.procBufAddr, s.procBufSize);
  auto g = rec.groups.find(groupOf(pid, s));
  if (g == rec.groups.end()) {
    if (s.bufAddr != s.procBufAddr) add(s.bufAddr, kBufHeader + s.bufCapacity);
    return out;
  }
  for (pid_t t : g->second.threads) {
    auto o = rec.procs.find(t);
    if (o == rec.procs.end() || !o->second.bufAddr) continue;
    const Session& ts = o->second;
    if (ts.bufAddr != s.procBufAddr) add(ts.bufAddr, kBufHeader + ts.bufCapacity);
    if (t == pid) continue;  // (the point's own thread: its dead stack is out of the hash already)
    // Another thread's stack where the library's frames are, or were: the replay's
    // library runs other code there (calls served from the feed, no desched event),
    // which leaves other values in its frames and below them. A thread in a syscall
    // runs no user code: its stack pointer is the one at the call's entry; one that is
    // not the runner stands stopped.
    uint64_t rsp = 0;
    if (ts.inSyscall) {
      rsp = ts.entry.rsp;
    } else {
      user_regs_struct r;
      if (ptrace(PTRACE_GETREGS, t, nullptr, &r) == 0) rsp = r.rsp;
    }
    if (rsp > kLibraryFramesBelow) out.insert(out.end(), {rsp - kLibraryFramesBelow, rsp + kLibraryFramesAbove});
  }
  return out;
}

uint32_t tracedWanted(const Session& s) {
  return (s.writableMapped ? kTracedFileWrites : 0) | (s.shared.empty() ? 0 : kTracedAll) |
         (s.orderStdio ? kTracedStdioWrites : 0) | (s.threaded ? kTracedMayBlock : 0);
}

uint32_t appendBufferWrites(pid_t pid, Session& s, RecordWriter& w) {
  uint32_t n = 0;
  if (s.bufAddr) {  // this thread's own buffer: emptied, the fork guard lifted
    BufHeader h{};
    if (readMemory(pid, s.bufAddr, &h, sizeof h) != sizeof h) return 0;
    // (the desched event's set-up uses the record area: empty, unless a record is in the writing)
    if (!h.busy) n += deschedAtExit(pid, s, w);
    BufHeader next = h;
    if (!h.busy) {
      next.used = 0;
      s.flushed = 0;
    }
    if (s.clearDisabled) next.disabled = 0;
    s.clearDisabled = false;
    if (next.used != h.used || next.disabled != h.disabled) {
      writeMemory(pid, s.bufAddr, &next, 16);
      w.u64(s.bufAddr);
      w.u32(16);
      w.bytes(&next, 16);
      n++;
    }
  }
  if (!s.procBufAddr) return n;
  // Once the program maps a data file it may write, its writes to files must be seen
  // by the recorder (they change mapped memory); once children share memory with it,
  // every call must stop, to record what they changed (record_shared.cc). The word is
  // the process's (in its first buffer), whichever thread stops. With threads, what a
  // thread's children share is known to that thread only: every call stays traced.
  uint32_t traced = 0;
  uint64_t at = s.procBufAddr + offsetof(BufHeader, traced);
  if (readMemory(pid, at, &traced, 4) != 4) return n;
  uint32_t want = tracedWanted(s) | (s.threaded ? traced & kTracedAll : 0);
  if (want != traced) {
    writeMemory(pid, at, &want, 4);
    w.u64(at);
    w.u32(4);
    w.bytes(&want, 4);
    n++;
  }
  return n;
}

}  // namespace rw
