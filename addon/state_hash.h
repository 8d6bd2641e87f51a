// The exact state of a stopped process, as one 128-bit hash (docs/preemption.md):
// what names a point in time that no event marks (an asynchronous signal's
// arrival). Shared by the record side (record_preempt.cc) and the replay side
// (replay_points.cc), which must hash the same way.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace rw {

// [start, end) address ranges the hash leaves out: memory the recording and the
// replay write differently (the syscall buffer, the filter's own page, the replay's
// stub and feed), which is not the program's state.
using AddressRanges = std::vector<std::pair<uint64_t, uint64_t>>;

struct StateHash {
  uint64_t low = 0, high = 0;
  bool operator==(const StateHash& o) const { return low == o.low && high == o.high; }
  bool operator!=(const StateHash& o) const { return !(*this == o); }
};

// xxh3-128 over the x87/SSE/AVX registers (XSAVE, without its header, whose init
// bits differ between runs with the same values) and every writable mapping's
// bytes, the excluded ranges cut out, and the dead stack below the red zone (the
// kernel's signal frames there hold the thread's last trap number, which the
// tracer's own traps change). The general registers are not in it: the callers
// compare them whole. Untouched private anonymous pages (untouched_pages.h) are
// hashed as the zeros they read as without being copied: the same bytes, the same hash.
StateHash stateHash(pid_t pid, const AddressRanges& excluded);

}  // namespace rw
