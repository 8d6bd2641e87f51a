// ELF images the recording knows (the executable's libraries, mapped by every
// process of a build): their map-file events written by the record loop itself,
// without the stop JS handles for a mapping (src/record/mapped-files.ts). JS stores
// an image the first time it is mapped and tells the loop its key and content hash
// (Recording.knowImage); from then on a private mapping of the same file (same
// device, inode, size, modification and change times: the key the file store
// trusts) gets the event JS would have written, byte for byte, and, when CPUID
// sites are patched (no CPUID faulting), the image's sites patched as JS patches them
// (src/cpuid/patching.ts). A `make` maps ~700 images; each stop cost a round trip to
// the JS thread.
#pragma once
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "cpuid_emulation.h"
#include "event_format.h"
#include "record_session.h"

namespace rw {

struct ImageKey {
  uint64_t dev, ino, size, mtimeNs, ctimeNs;
  bool operator<(const ImageKey& o) const {
    return std::tie(dev, ino, size, mtimeNs, ctimeNs) < std::tie(o.dev, o.ino, o.size, o.mtimeNs, o.ctimeNs);
  }
};

struct KnownImage {
  std::string sha;
  bool patch = false;           // CPUID sites are patched at each executable mapping
  std::vector<uint64_t> sites;  // file offsets of its CPUID instructions
};

using KnownImages = std::map<ImageKey, KnownImage>;

// The CPUID sites of `image` mapped from file offset `offset` at [addr, addr +
// length) with `prot`: the range's old sites forgotten, the image's patched if it is
// executable (what src/cpuid/patching.ts does after a mapping).
void patchImageSites(pid_t pid, CpuidState& cpuid, const KnownImage& image, uint64_t addr, uint64_t length, uint64_t offset,
                     uint64_t prot);

// After a successful mmap of a file (the call's entry in s): writes the map-file
// event if the file is a known image mapped privately, and returns true; false
// leaves the mapping to JS (the 'mmap-file' stop).
bool writeKnownImageMap(const KnownImages& images, pid_t pid, Session& s, int64_t result, RecordWriter& w,
                        uint32_t& count);

}  // namespace rw
