// The replay loop's inputs (the syscall table and a chunk of event records) copied
// off the JS heap once, not at every run.
//
// The tracer thread must not read JS memory, so every run took copies: the 32 KiB
// table and the chunk's records from the run's offset to the chunk's end. A make
// replay has ~190 runs, each a fresh ~160 KiB (a fresh mmap from malloc, its pages
// faulted in and zeroed) on the JS thread while the tracer thread waits for the run:
// ~15 ms of the replay's critical path (perf, docs/replay-speed.md "make replay").
// A chunk's records are decompressed once into a Buffer that nothing writes to
// again (src/history/chunk-cache.ts), and the runs of one chunk pass views of the
// same ArrayBuffer: it is copied once and shared by those runs, recognised by the
// ArrayBuffer itself (a weak reference, so a chunk let go is not kept alive, and a
// new one at the same address is not mistaken for it). The table is compared with
// the last copy (32 KiB, no page faults) and that copy reused when equal.
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "syscall_abi.h"

namespace rw {

struct RunInputs {
  std::shared_ptr<const std::vector<Row>> table;
  std::shared_ptr<const std::vector<uint8_t>> events;
  size_t offset;  // of the view's first byte in events
};

// From the JS thread: the table (an Int32Array) and the records of `view` (a Buffer).
RunInputs runInputsFrom(const Napi::Value& table, const Napi::Value& view);

}  // namespace rw
