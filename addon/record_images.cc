// The map-file events of known ELF images: see record_images.h.
#include "record_images.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "cpuid_emulation.h"

namespace rw {
namespace {

constexpr uint64_t kMapSharedValidate = 0x03, kMapPrivate = 0x02;

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
  return b;
}

// JSON.stringify of a string whose bytes are UTF-8 (a path): quotes, backslashes
// and control characters escaped as JavaScript escapes them.
std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

// Only ASCII paths: JS reads a link as UTF-8, where a bad sequence becomes U+FFFD;
// the rare other path stays with JS.
bool ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

}  // namespace

bool writeKnownImageMap(const KnownImages& images, pid_t pid, Session& s, int64_t result, RecordWriter& w,
                        uint32_t& count) {
  if (images.empty()) return false;
  uint64_t flags = s.entry.r10;
  if ((flags & kMapSharedValidate) != kMapPrivate) return false;
  std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(int32_t(s.entry.r8));
  struct stat st;
  if (stat(link.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  ImageKey key{uint64_t(st.st_dev), uint64_t(st.st_ino), uint64_t(st.st_size),
               uint64_t(st.st_mtim.tv_sec) * 1000000000ull + uint64_t(st.st_mtim.tv_nsec),
               uint64_t(st.st_ctim.tv_sec) * 1000000000ull + uint64_t(st.st_ctim.tv_nsec)};
  auto known = images.find(key);
  if (known == images.end()) return false;
  char path[4096];
  ssize_t n = readlink(link.c_str(), path, sizeof path);
  if (n <= 0 || size_t(n) >= sizeof path) return false;
  std::string name(path, size_t(n));
  if (!ascii(name)) return false;
  uint64_t length = s.entry.rsi, offset = s.entry.r9;
  uint64_t size = uint64_t(st.st_size) > offset ? std::min<uint64_t>(length, uint64_t(st.st_size) - offset) : 0;
  // as src/record/mapped-files.ts writes it: {addr, length, offset, prot, flags, sha, path, size}
  std::string json = "{\"addr\":\"" + hex(uint64_t(result)) + "\",\"length\":\"" + hex(length) + "\",\"offset\":\"" +
                     hex(offset) + "\",\"prot\":" + std::to_string(int64_t(s.entry.rdx)) +
                     ",\"flags\":" + std::to_string(int64_t(flags)) + ",\"sha\":\"" + known->second.sha +
                     "\",\"path\":" + jsonString(name) + ",\"size\":" + std::to_string(size) + "}";
  size_t start = w.begin(kEvMapFile, 0, uint32_t(pid));
  w.bytes(json.data(), json.size());
  w.end(start);
  count++;
  if (known->second.patch) patchImageSites(pid, s.cpuid, known->second, uint64_t(result), length, offset, s.entry.rdx);
  return true;
}

void patchImageSites(pid_t pid, CpuidState& cpuid, const KnownImage& image, uint64_t addr, uint64_t length, uint64_t offset,
                     uint64_t prot) {
  std::vector<uint64_t> at;
  if (prot & PROT_EXEC)
    for (uint64_t site : image.sites)
      if (site >= offset && site + 2 <= offset + length) at.push_back(addr + (site - offset));
  cpuidPatch(pid, cpuid, addr, addr + length, at);
}

}  // namespace rw
