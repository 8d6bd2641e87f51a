// A map-file event of an emulated file in one tracer job: see replay_emu_map.h.
// The steps are those src/replay/emulated-files.ts took one round trip at a time.
#include "replay_emu_map.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "event_format.h"
#include "event_json.h"
#include "replay_files.h"
#include "ptrace_ops.h"
#include "stub_layout.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr int kNrClose = 3, kNrMmap = 9, kNrOpenat = 257, kNrMemfdCreate = 319;
constexpr uint64_t kMapShared = 1, kMapPrivate = 2, kMapFixed = 0x10, kMfdCloexec = 1, kOCloexec = 02000000;
constexpr uint64_t kAtFdcwd = uint64_t(-100);
constexpr uint64_t kScratchSize = 0x400;  // from kStubScratch to the stub page's end (src/replay/stub.ts)
// Zeros are written in blocks of this size, aligned on the range's start: the
// recorder stores a range in pieces of this size, and a block that a piece starts
// at holds that piece's bytes already.
constexpr uint64_t kBlock = 1 << 20;

std::string fdPath(pid_t pid, int fd) { return "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd); }

// The process's fd of the emulated file `name` ("rewind:..."), or -1.
int findEmulated(pid_t pid, const std::string& name) {
  const std::string want = "/memfd:" + name, deleted = want + " (deleted)";
  DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) throw NativeError{errno, "emulated file: the process's fds"};
  int found = -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char target[512];
    ssize_t n = readlink(fdPath(pid, atoi(e->d_name)).c_str(), target, sizeof target - 1);
    if (n <= 0) continue;  // closed meanwhile
    std::string t(target, size_t(n));
    if (t == want || t == deleted) {
      found = atoi(e->d_name);
      break;
    }
  }
  closedir(d);
  return found;
}

void writeAll(int fd, const uint8_t* data, size_t len, uint64_t at) {
  while (len > 0) {
    ssize_t n = pwrite(fd, data, len, off_t(at));
    if (n <= 0) throw NativeError{n < 0 ? errno : EIO, "emulated file: write"};
    data += n;
    len -= size_t(n);
    at += uint64_t(n);
  }
}

// The file's size, then the recorded bytes of its range: the pieces, and zeros
// where the file (a memfd this process made earlier) holds other data.
void setContents(int host, const EmuMapSpec& s) {
  if (ftruncate(host, off_t(s.fileSize)) != 0) throw NativeError{errno, "emulated file: size"};
  if (!s.fill) return;
  std::set<uint64_t> covered;
  for (const auto& [at, bytes] : s.pieces) {
    if (at >= s.length) continue;
    writeAll(host, bytes->data(), size_t(std::min<uint64_t>(bytes->size(), s.length - at)), s.offset + at);
    covered.insert(at);
  }
  static const std::vector<uint8_t> zeros(kBlock);
  const uint64_t end = s.offset + s.length;
  for (uint64_t at = s.offset; at < end;) {
    off_t data = lseek(host, off_t(at), SEEK_DATA);
    if (data < 0 || uint64_t(data) >= end) break;  // ENXIO: only a hole is left
    off_t hole = lseek(host, data, SEEK_HOLE);
    uint64_t stop = hole < 0 ? end : std::min(end, uint64_t(hole));
    for (uint64_t p = uint64_t(data); p < stop;) {
      uint64_t block = (p - s.offset) / kBlock * kBlock;
      uint64_t blockEnd = std::min(stop, s.offset + block + kBlock);
      if (!covered.count(block)) writeAll(host, zeros.data(), size_t(blockEnd - p), p);
      p = blockEnd;
    }
    at = stop;
  }
}

// Only the tracer thread reads or writes these (replayKnowPiece runs as a job).
std::map<std::string, std::string> knownPieces;  // sha -> the trace's checked file of it
// The bytes of pieces read already: every process of a make maps the same few data
// files (ld.so.cache, the locale files, gconv's cache), each map read its pieces
// from disk again (~7 ms of a make replay's tracer thread). A piece is at most 1 MiB
// and its file never changes; the cache stops growing at kCachedBytes.
std::map<std::string, std::shared_ptr<std::vector<uint8_t>>> pieceBytes;  // (never written to)
size_t pieceBytesTotal = 0;
constexpr size_t kCachedBytes = 64u << 20;

std::shared_ptr<std::vector<uint8_t>> readWhole(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  auto bytes = std::make_shared<std::vector<uint8_t>>();
  uint8_t buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return n < 0 ? nullptr : bytes;
    }
    bytes->insert(bytes->end(), buf, buf + n);
  }
}

// The pieces of the event's JSON: "pieces":[[AT,"SHA"],...], with each piece's bytes
// from its known file; false when the list is malformed or a piece is not known.
bool knownPiecesOf(const std::string& json, EmuMapSpec& s) {
  size_t at = json.find("\"pieces\":[");
  if (at == std::string::npos) return true;  // none (shared memory)
  at += 10;
  for (;;) {
    if (at < json.size() && json[at] == ']') return true;
    if (at < json.size() && json[at] == ',') at++;
    if (at >= json.size() || json[at] != '[') return false;
    size_t comma = json.find(',', at), close = json.find(']', at);
    if (comma == std::string::npos || close == std::string::npos || comma > close || close - comma < 3) return false;
    uint64_t offset;
    std::string sha = json.substr(comma + 2, close - comma - 3);  // between the quotes
    if (!number(json.substr(at + 1, comma - at - 1), 10, offset)) return false;
    auto known = knownPieces.find(sha);
    if (known == knownPieces.end()) return false;
    auto cached = pieceBytes.find(sha);
    std::shared_ptr<std::vector<uint8_t>> bytes;
    if (cached != pieceBytes.end()) {
      bytes = cached->second;
    } else {
      bytes = readWhole(known->second);
      if (!bytes) return false;
      if (pieceBytesTotal + bytes->size() <= kCachedBytes) {
        pieceBytes[sha] = bytes;
        pieceBytesTotal += bytes->size();
      }
    }
    s.pieces.emplace_back(offset, std::move(bytes));
    at = close + 1;
  }
}

}  // namespace

void replayKnowPiece(const std::string& sha, const std::string& path) { knownPieces[sha] = path; }

bool replayKnownEmuMap(pid_t pid, const RecordView& v) {
  if (knownPieces.empty() || v.n <= 12) return false;
  std::string json(reinterpret_cast<const char*>(v.p) + 12, v.n - 12);
  EmuMapSpec s;
  std::string addrS, lengthS, offsetS, protS, flagsS, sizeS, fileSizeS, readOnlyS;
  uint64_t flags;
  if (!field(json, "file", s.identity) || !field(json, "addr", addrS) || !field(json, "length", lengthS) ||
      !field(json, "offset", offsetS) || !field(json, "prot", protS) || !field(json, "flags", flagsS) ||
      !field(json, "size", sizeS) || !number(addrS, 16, s.addr) || !number(lengthS, 16, s.mapLength) ||
      !number(offsetS, 16, s.offset) || !number(protS, 10, s.prot) || !number(flagsS, 10, flags) ||
      !number(sizeS, 10, s.length))
    return false;
  // as src/replay/emulated-files.ts reads them
  if (field(json, "fileSize", fileSizeS) && !number(fileSizeS, 10, s.fileSize)) return false;
  s.readOnly = field(json, "readOnly", readOnlyS) && readOnlyS == "true";
  s.shared = (flags & 3) != kMapPrivate;
  s.fill = s.identity.compare(0, 5, "anon:") != 0;
  s.mapOffset = s.fill ? s.offset : 0;
  if (s.fill && !knownPiecesOf(json, s)) return false;
  try {
    emuMapFile(pid, s);
  } catch (const NativeError&) {
    return false;  // JS applies it again (each step can be redone) and says what failed
  }
  return true;
}

int emuMapFile(pid_t pid, const EmuMapSpec& s) {
  const std::string name = "rewind:" + s.identity;
  int fd = findEmulated(pid, name);
  if (fd < 0) {
    if (name.size() + 1 > kScratchSize) throw NativeError{ENAMETOOLONG, "emulated file: name " + name};
    writeMemory(pid, kStubScratch, name.c_str(), name.size() + 1);
    fd = int(injectForFiles(pid, kNrMemfdCreate, kStubScratch, kMfdCloexec));
  }
  int host = open(fdPath(pid, fd).c_str(), O_RDWR | O_CLOEXEC);
  if (host < 0) throw NativeError{errno, "emulated file: open " + fdPath(pid, fd)};
  try {
    setContents(host, s);
  } catch (...) {
    close(host);
    throw;
  }
  close(host);
  uint64_t mapFd = uint64_t(fd);
  if (s.shared && s.readOnly) {
    std::string self = "/proc/self/fd/" + std::to_string(fd);
    writeMemory(pid, kStubScratch, self.c_str(), self.size() + 1);
    mapFd = uint64_t(injectForFiles(pid, kNrOpenat, kAtFdcwd, kStubScratch, kOCloexec));
  }
  int64_t got;
  try {
    got = injectForFiles(pid, kNrMmap, s.addr, s.mapLength, s.prot, (s.shared ? kMapShared : kMapPrivate) | kMapFixed, mapFd,
                 s.mapOffset);
  } catch (...) {
    if (mapFd != uint64_t(fd)) injectForFiles(pid, kNrClose, mapFd);
    throw;
  }
  if (mapFd != uint64_t(fd)) injectForFiles(pid, kNrClose, mapFd);
  if (uint64_t(got) != s.addr) throw NativeError{EPROTO, "emulated file " + s.identity + ": mapped elsewhere than recorded"};
  return fd;
}

}  // namespace rw
