// Replay of buffered syscalls in-process, as rr's syscall buffer does in replay.
//
// Recording, the preload library (addon/preload/rwpreload.c) makes the common calls
// without a ptrace stop and the recorder copies their records into the trace. Until
// now replay stopped twice on each of them anyway. Here the replay loop writes the
// records of the buffered calls to come into a feed, a mapping of its own in the
// replayed process, before it resumes the program; the library takes each call's
// recorded result and memory from the feed when the call matches the record, and
// makes the call otherwise. At the next stop the loop reads how many records the
// library took: those events are replayed, in order, and the stop belongs to the
// event after them, which the loop checks as before. So a divergence (another call,
// other arguments, other bytes written) is a call the library does not serve, and
// the loop names its event with the usual message.
#include "replay_syscallbuf.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "ptrace_ops.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr int64_t kNrPrctl = 157;
constexpr uint64_t kMagic = 0x52574e44, kMagicOk = 0x52574e4f4bull, kMagicFiltered = 0x52574e4f46ull, kCanFeed = 1;
constexpr uint64_t kHeaderFeedField = 32;  // rw_header.feed
constexpr size_t kFeedHeader = 64;         // rw_feed, padded
// Record layout (rwpreload.c): size, nr, args, masks, result, checkLen, checkCrc,
// checkBytes, nwrites, then the trace record's writes verbatim.
constexpr size_t kArgsAt = 8, kMasksAt = 56, kResultAt = 104, kCheckAt = 112, kWritesAt = 128;
// Per fill: enough to pass thousands of calls per stop, small enough to write fast.
constexpr uint32_t kMaxRecordsPerFill = 4096;

// The calls the library buffers (rwpreload.c's plan()); any other is always traced.
bool bufferedNumber(uint32_t nr) {
  switch (nr) {
    case 0: case 1: case 3: case 4: case 5: case 6: case 8: case 16: case 17: case 18: case 21: case 39:
    case 72: case 79: case 89: case 110: case 217: case 221: case 228: case 257: case 262: case 267:
    case 269: case 332: case 439: case 202:
      return true;
  }
  return false;
}

bool view(const std::vector<uint8_t>& events, size_t at, size_t end, RecordView& v) {
  if (at + kHeaderSize > end) return false;
  v = RecordView{events.data() + at, 0};
  v.n = v.size();
  return v.n >= kHeaderSize && at + v.n <= end;
}

// Whether the library can serve this event: a buffered call that replay annuls and
// writes back, and nothing the loop must do itself (echo the program's output).
bool servable(const Row* table, const RecordView& v) {
  if (v.kind() != kEvSyscall || v.flags() != 0 || v.n < kSyscallFixed) return false;
  uint32_t nr = v.get32(12);
  if (!bufferedNumber(nr) || nr >= uint32_t(kTableRows)) return false;
  const Row& row = table[nr];
  if (row.action != kEmulate || (row.check != kCheckNone && row.check != kCheckBuffer)) return false;
  uint32_t fd = uint32_t(v.get64(20));
  return !((row.flags & kFlagEcho) && (fd == 1 || fd == 2));
}

// Events a stop can belong to: the loop must be able to take the stop that ends a fill
// (an enter event: a thread's run ends at a traced call, a futex wait after the
// buffered wakes of a condvar's signal and a mutex's unlock).
bool takesStop(const RecordView& v) {
  switch (v.kind()) {
    case kEvSyscall: case kEvSignal: case kEvRdtsc: case kEvCpuid: case kEvExit: case kEvEnter: return true;
  }
  return false;
}

// Appends the feed record of trace record v: its fixed part written in place, then the
// trace record's memory writes verbatim (a fill writes thousands: no byte-wise inserts).
void appendRecord(std::vector<uint8_t>& b, const Row& row, const RecordView& v) {
  size_t start = b.size();
  size_t writes = v.n - kSyscallFixed;
  size_t size = (kWritesAt + writes + 7) & ~size_t(7);
  b.resize(start + size);
  uint8_t* r = b.data() + start;
  auto put32 = [&](size_t at, uint32_t x) { std::memcpy(r + at, &x, 4); };
  auto put64 = [&](size_t at, uint64_t x) { std::memcpy(r + at, &x, 8); };
  put32(0, uint32_t(size));
  put32(4, v.get32(12));
  for (int i = 0; i < 6; i++) {
    put64(kArgsAt + 8 * i, v.get64(20 + 8 * i) & argMask(row, i));
    put64(kMasksAt + 8 * i, argMask(row, i));
  }
  put64(kResultAt, v.get64(68));
  put32(kCheckAt, v.get32(76));
  put32(kCheckAt + 4, v.get32(80));
  put32(kCheckAt + 8, row.check == kCheckBuffer ? 1 : 0);
  put32(kCheckAt + 12, v.get32(16));
  std::memcpy(r + kWritesAt, v.p + kSyscallFixed, writes);
  std::memset(r + kWritesAt + writes, 0, size - kWritesAt - writes);
}

}  // namespace

bool isFeedRegistration(int64_t nr, const uint64_t a[6], int64_t result) {
  return nr == kNrPrctl && a[0] == kMagic && (uint64_t(result) == kMagicOk || uint64_t(result) == kMagicFiltered) &&
         (a[5] & kCanFeed);
}

bool feedMmapArgs(uint64_t m[6], uint32_t slot) {
  if (slot >= kFeedSlots) return false;
  uint64_t flags = 0x22 /* PRIVATE|ANONYMOUS */ | 0x100000 /* FIXED_NOREPLACE */ | 0x4000 /* NORESERVE */;
  uint64_t args[6] = {kFeedAddress + slot * kFeedSize, kFeedSize, 3 /* RW */, flags, uint64_t(-1), 0};
  std::memcpy(m, args, sizeof args);
  return true;
}

namespace {

// The executable mapping that holds `ip` (the library's text), from /proc/PID/maps.
bool codeRange(pid_t pid, uint64_t ip, uint64_t& start, uint64_t& end) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/maps", int(pid));
  FILE* f = fopen(path, "r");
  if (!f) return false;
  char line[512];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    unsigned long long lo, hi;
    char perms[8];
    if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3 && ip >= lo && ip < hi && perms[2] == 'x') {
      start = lo;
      end = hi;
      found = true;
    }
  }
  fclose(f);
  return found;
}

}  // namespace

void feedInstall(pid_t pid, BufferFeed& feed, const uint64_t registration[6], int64_t mapped) {
  uint64_t address = uint64_t(mapped), header = registration[1];
  if (address < kFeedAddress || address >= kFeedAddress + kFeedSlots * kFeedSize) return;  // no room: every call stops
  writeMemory(pid, header + kHeaderFeedField, &address, 8);
  feed = BufferFeed{};
  feed.address = address;
  feed.bufStart = header;
  feed.bufEnd = header + registration[2];
  // without the library's text a debugger cannot tell its states apart: it keeps the feed empty
  if (!codeRange(pid, registration[3], feed.codeStart, feed.codeEnd)) feed.codeStart = feed.codeEnd = 0;
}

namespace {

// A new fill from `at` on; returns how many records it holds.
uint32_t fill(pid_t pid, BufferFeed& feed, const Row* table, const std::vector<uint8_t>& events, size_t at,
              uint32_t maxRecords) {
  maxRecords = std::min(maxRecords, kMaxRecordsPerFill);
  // one buffer for every fill (only the tracer thread fills): its pages stay mapped
  static std::vector<uint8_t> buf;
  buf.assign(kFeedHeader, 0);
  std::vector<uint32_t> offsets{uint32_t(kFeedHeader)};
  size_t end = events.size();
  RecordView v{};
  while (offsets.size() <= maxRecords && view(events, at, end, v) && servable(table, v)) {
    size_t before = buf.size();
    appendRecord(buf, table[v.get32(12)], v);
    if (buf.size() > kFeedSize) {
      buf.resize(before);
      break;
    }
    offsets.push_back(uint32_t(buf.size()));
    at += v.n;
  }
  // The stop that ends the fill must belong to an event the loop can take it for,
  // within what it was given: else the last record is left for the loop.
  RecordView next{};
  if (offsets.size() > 1 && !(view(events, at, end, next) && takesStop(next))) offsets.pop_back();
  uint32_t n = uint32_t(offsets.size() - 1);
  if (!n) return 0;
  buf.resize(offsets.back());
  uint64_t header[3] = {0, n, kFeedHeader};  // consumed, count, offset
  std::memcpy(buf.data(), header, sizeof header);
  writeMemory(pid, feed.address, buf.data(), buf.size());
  feed.filled = n;
  feed.passed = 0;
  feed.offsets = std::move(offsets);
  feed.armed = true;
  return n;
}

}  // namespace

bool feedReady(pid_t pid, BufferFeed& feed, const Row* table, const std::vector<uint8_t>& events, size_t at,
               uint32_t room) {
  if (!feed.address || room < 2) {
    feedDisarm(pid, feed);
    return false;
  }
  const uint8_t* here = events.data() + at;
  if (feed.armed && feed.next == here && feed.passed < feed.filled && feed.filled - feed.passed < room) {
    // Go on with the fill: the library's cursor to the record after the one the loop replayed.
    uint64_t header[3] = {feed.passed, feed.filled, feed.offsets[feed.passed]};
    writeMemory(pid, feed.address, header, sizeof header);
    return true;
  }
  if (fill(pid, feed, table, events, at, room - 1)) {
    feed.next = here;
    return true;
  }
  feedDisarm(pid, feed);
  return false;
}

uint32_t feedTaken(pid_t pid, BufferFeed& feed, const std::vector<uint8_t>& events, size_t at) {
  uint64_t consumed = 0;
  if (readMemory(pid, feed.address, &consumed, 8) != 8 || consumed < feed.passed || consumed > feed.filled)
    throw NativeError{EIO, "the syscall buffer's feed was overwritten"};
  uint32_t taken = uint32_t(consumed - feed.passed);
  for (uint32_t i = 0; i < taken; i++) {
    uint32_t size;
    std::memcpy(&size, events.data() + at, 4);
    at += size;
  }
  feed.passed = uint32_t(consumed);
  if (feed.passed == feed.filled) {  // nothing left to take
    feed.armed = false;
    feed.next = nullptr;
  } else {  // the stop's event is record `passed`: the loop replays it
    uint32_t size;
    std::memcpy(&size, events.data() + at, 4);
    feed.passed++;
    feed.next = events.data() + at + size;
  }
  return taken;
}

uint32_t feedStopped(pid_t pid, BufferFeed& feed) {
  if (!feed.armed) return 0;
  uint64_t consumed = 0;
  if (readMemory(pid, feed.address, &consumed, 8) != 8 || consumed < feed.passed || consumed > feed.filled)
    throw NativeError{EIO, "the syscall buffer's feed was overwritten"};
  uint32_t taken = uint32_t(consumed - feed.passed);
  feed.passed = uint32_t(consumed);
  feedDisarm(pid, feed);
  return taken;
}

void feedEmptyCopy(pid_t copy, uint64_t feedAddress) {
  uint64_t header[3] = {0, 0, kFeedHeader};
  writeMemory(copy, feedAddress, header, sizeof header);
}

void feedDisarm(pid_t pid, BufferFeed& feed) {
  if (!feed.armed) return;
  uint64_t header[3] = {0, 0, kFeedHeader};
  writeMemory(pid, feed.address, header, sizeof header);
  feed.armed = false;
  feed.filled = feed.passed = 0;
  feed.next = nullptr;
}

}  // namespace rw
