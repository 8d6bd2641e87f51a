// Binary event records, shared with src/history/events.ts and docs/trace-format.md.
// Every record: u32 size (whole record), u8 kind, u8 flags, u16 zero, u32 tid, payload.
// All integers little-endian.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace rw {

enum EventKind : uint8_t {
  kEvSyscall = 1,  // u32 nr, u32 nwrites, u64 args[6], i64 result, u32 checkLen, u32 checkCrc,
                   // then nwrites x { u64 addr, u32 len, bytes[len] }
  kEvSignal = 2,   // u32 signo, u32 how, u8 siginfo[128]
  kEvRdtsc = 3,    // u64 tsc, u32 aux, u32 insnLen
  kEvCpuid = 4,    // u32 leaf, u32 subleaf, u32 eax, ebx, ecx, edx, u32 how (0 patched site, 1 faulted)
  kEvExec = 5,     // JSON (written by TypeScript)
  kEvMapFile = 6,  // JSON (written by TypeScript)
  kEvExit = 7,     // u32 how (0 exited, 1 killed by signal), i32 code
  kEvStop = 8,     // JSON: the recording stopped early (written by TypeScript)
  kEvClone = 10,   // (9 is file-data, JSON) in the parent's stream: u32 child pid, u32 ptrace event, u64 clone flags,
                   // u32 nwrites, then nwrites x { u64 addr, u32 len, bytes[len] } of the child's memory
  kEvEnter = 11,   // (format 5) u32 nr: a thread of a process with several stopped at a syscall entry
  kEvAsyncPoint = 12,  // JSON: an asynchronous signal's point (written by TypeScript)
};

enum SyscallFlag : uint8_t {
  kSysAnnulledInRecord = 1,  // the recorder refused it (rseq) and forced the result
  kSysGenericCapture = 2,    // outputs found by diffing writable memory
  kSysEchoed = 4,            // a write that reached the recording's own stdout or stderr (format 4)
};

enum SignalHow : uint32_t {
  kSigSync = 0,             // raised by the instruction at the stop (fault, int3...)
  kSigAtSyscallExit = 1,    // asynchronous, delivered when the previous syscall returned
};

constexpr size_t kHeaderSize = 12;
constexpr size_t kSyscallFixed = kHeaderSize + 4 + 4 + 48 + 8 + 4 + 4;  // 84
constexpr size_t kSiginfoSize = 128;

class RecordWriter {
 public:
  explicit RecordWriter(std::vector<uint8_t>& out) : out_(out) {}
  size_t begin(uint8_t kind, uint8_t flags, uint32_t tid) {
    size_t start = out_.size();
    u32(0);
    out_.push_back(kind);
    out_.push_back(flags);
    u16(0);
    u32(tid);
    return start;
  }
  void end(size_t start) {
    uint32_t size = uint32_t(out_.size() - start);
    std::memcpy(&out_[start], &size, 4);
  }
  void u16(uint16_t v) { bytes(&v, 2); }
  void u32(uint32_t v) { bytes(&v, 4); }
  void u64(uint64_t v) { bytes(&v, 8); }
  void bytes(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void patchU32(size_t at, uint32_t v) { std::memcpy(&out_[at], &v, 4); }
  size_t size() const { return out_.size(); }

 private:
  std::vector<uint8_t>& out_;
};

struct RecordView {
  const uint8_t* p;
  size_t n;
  uint32_t size() const { return get32(0); }
  uint8_t kind() const { return p[4]; }
  uint8_t flags() const { return p[5]; }
  uint32_t tid() const { return get32(8); }
  uint32_t get32(size_t at) const { uint32_t v; std::memcpy(&v, p + at, 4); return v; }
  uint64_t get64(size_t at) const { uint64_t v; std::memcpy(&v, p + at, 8); return v; }
};

uint32_t crc32(uint32_t crc, const uint8_t* data, size_t n);

}  // namespace rw
