// Reading syscall outputs and inputs out of a stopped tracee, by the table's rules.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "event_format.h"
#include "syscall_abi.h"

namespace rw {

struct Region {
  uint64_t start;
  std::vector<uint8_t> bytes;
};

// Emits { u64 addr, u32 len, bytes } for each output of the call; returns how many.
uint32_t captureOutputs(pid_t pid, const Row& row, const uint64_t args[6], int64_t ret, RecordWriter& w);

// The bytes a write-like call hands to the kernel (limited to `limit`), for checks and echo.
std::vector<uint8_t> gatherInput(pid_t pid, int32_t check, const uint64_t args[6], uint64_t limit);

// True when an ioctl request's output size is not known (generic capture needed).
bool ioctlNeedsGeneric(uint64_t request);

// Snapshot of every writable mapping, and the writes between two snapshots.
std::vector<Region> snapshotWritable(pid_t pid);
uint32_t emitDifferences(pid_t pid, const std::vector<Region>& before, RecordWriter& w);

}  // namespace rw
