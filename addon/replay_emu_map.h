// A map-file event of an emulated file (replay_files.h has the model), applied in
// one tracer job: find or create the process's memfd, give it the recorded size and
// bytes, map it where and as the recording did. Done step by step from JS, each
// injected call was a round trip to the tracer thread, and a make maps the C
// library's data files (ld.so.cache, locales, gconv's cache) in every one of its
// ~26 processes: ~120 events of 2-3 ms each on a loaded machine.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rw {

struct EmuMapSpec {
  std::string identity;  // the memfd is "rewind:<identity>"
  uint64_t fileSize = 0;
  // Whether [offset, offset + length) of the file gets the pieces' bytes (zeros where
  // the file holds other data); an anonymous shared piece of memory only has a size.
  bool fill = false;
  uint64_t offset = 0, length = 0;
  std::vector<std::pair<uint64_t, std::shared_ptr<std::vector<uint8_t>>>> pieces;  // (offset in the range, bytes)
  uint64_t addr = 0, mapLength = 0, prot = 0, mapOffset = 0;
  bool shared = false;
  // a shared mapping of a read-only fd: mapped through a read-only fd, as recorded
  // (it can never be made writable)
  bool readOnly = false;
};

// Applies the event to the stopped process; throws NativeError. Returns the fd of the
// emulated file in the process.
int emuMapFile(pid_t pid, const EmuMapSpec& spec);

// The replay loop applies later map-file events of emulated files itself, without
// the 'need-js' stop (two round trips between the threads more), when JS has checked
// every piece they name: JS tells it each piece's checked file in the trace once
// (replayKnowPiece), after it applied an event naming it. A make maps the same
// dozen data files in each of its processes.
void replayKnowPiece(const std::string& sha, const std::string& path);

// A map-file event (v) of an emulated file whose pieces are all known, for process
// pid stopped after the mmap: applies it and returns true; false leaves it to JS.
struct RecordView;
bool replayKnownEmuMap(pid_t pid, const RecordView& v);

}  // namespace rw
