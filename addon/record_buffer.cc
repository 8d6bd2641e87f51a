// The recorder's side of the in-process syscall buffer: see record_buffer.h.
#include "record_buffer.h"
#include "record_processes.h"

#include <errno.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "ptrace_ops.h"
#include "tracer_thread.h"

namespace rw {

void flushBuffer(pid_t pid, Session& s, RecordWriter& w, uint32_t& count) {
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

uint32_t tracedWanted(const Session& s) {
  return (s.writableMapped ? kTracedFileWrites : 0) | (s.shared.empty() && !s.threaded ? 0 : kTracedAll) |
         (s.orderStdio ? kTracedStdioWrites : 0);
}

uint32_t appendBufferWrites(pid_t pid, Session& s, RecordWriter& w) {
  if (!s.bufAddr) return 0;
  BufHeader h{};
  if (readMemory(pid, s.bufAddr, &h, sizeof h) != sizeof h) return 0;
  uint32_t n = 0;
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
  // Once the program maps a data file it may write, its writes to files must be seen
  // by the recorder (they change mapped memory); once children share memory with it,
  // every call must stop, to record what they changed (record_shared.cc).
  uint32_t want = tracedWanted(s);
  if (want != h.traced) {
    uint64_t at = s.bufAddr + offsetof(BufHeader, traced);
    writeMemory(pid, at, &want, 4);
    w.u64(at);
    w.u32(4);
    w.bytes(&want, 4);
    n++;
  }
  return n;
}

}  // namespace rw
