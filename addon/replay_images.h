// Map-file events of ELF images replayed by the replay loop itself: the trace's
// file of the image mapped privately over the placeholder the loop mapped, as
// src/replay/stored-mappings.ts does, without the 'need-js' stop. JS tells the loop
// the path of each image it has checked and mapped once (replayKnowImage); a replay
// of `make` has ~700 such events, each a round trip to the JS thread. When CPUID
// sites are patched, JS gives the image's sites too, and they are patched here as
// JS patches them after a mapping.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "cpuid_emulation.h"
#include "event_format.h"

namespace rw {

// The trace's file `path` mapped privately at addr in the stopped tracee: the path
// written at `scratch`, then openat, mmap and close injected at `insn`. Returns
// mmap's result, or openat's negative errno.
int64_t mapTraceFile(pid_t pid, uint64_t insn, uint64_t scratch, const std::string& path, uint64_t addr, uint64_t length,
                     uint64_t prot, uint64_t offset);

// From the JS thread's jobs: the checked trace file holding the image `sha`, and
// whether its CPUID sites (file offsets) are patched at each mapping.
void replayKnowImage(const std::string& sha, const std::string& path, bool patch, const std::vector<uint64_t>& sites);

// A map-file event (v) of an ELF image whose file is known, for process pid stopped
// after the mmap: maps it and returns true; false leaves the event to JS.
bool replayKnownImageMap(pid_t pid, CpuidState& cpuid, const RecordView& v);

}  // namespace rw
