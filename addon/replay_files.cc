// Emulated files in a replayed process: see replay_files.h.
#include "replay_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "memory_io.h"
#include "ptrace_ops.h"
#include "stub_layout.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr int kNrMmap = 9, kNrClose = 3, kNrDup3 = 292, kNrMemfdCreate = 319;
constexpr uint64_t kMapShared = 1, kMapPrivate = 2, kMapFixed = 0x10, kCloexec = 02000000, kMfdCloexec = 1;
constexpr uint64_t kPage = 4096;
const std::string kMemfdPrefix = "/memfd:rewind:";
const std::string kDeleted = " (deleted)";

struct Mapping {
  uint64_t start, end, offset;
  char perms[5];
};

std::string procPath(pid_t pid, const std::string& rest) { return "/proc/" + std::to_string(pid) + "/" + rest; }

// The memfd name ("rewind:...") behind the tracee's fd, or "".
std::string emuName(pid_t pid, int fd) {
  char target[512];
  ssize_t n = readlink(procPath(pid, "fd/" + std::to_string(fd)).c_str(), target, sizeof target - 1);
  if (n <= 0) return "";
  std::string t(target, size_t(n));
  if (t.compare(0, kMemfdPrefix.size(), kMemfdPrefix) != 0) return "";
  if (t.size() > kDeleted.size() && t.compare(t.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0)
    t.resize(t.size() - kDeleted.size());
  return t.substr(7);  // after "/memfd:"
}

std::vector<int> emuFds(pid_t pid) {
  std::vector<int> fds;
  DIR* d = opendir(procPath(pid, "fd").c_str());
  if (!d) return fds;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (!emuName(pid, fd).empty()) fds.push_back(fd);
  }
  closedir(d);
  return fds;
}

std::vector<Mapping> mappingsOf(pid_t pid, const std::string& name) {
  std::vector<Mapping> out;
  FILE* f = fopen(procPath(pid, "maps").c_str(), "r");
  if (!f) return out;
  std::string want = "/memfd:" + name;
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    unsigned long long s, e, off;
    char perms[5] = {0};
    int pathAt = 0;
    if (sscanf(line, "%llx-%llx %4s %llx %*s %*s %n", &s, &e, perms, &off, &pathAt) < 4 || !pathAt) continue;
    std::string path(line + pathAt);
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
    if (path == want || path == want + kDeleted) {
      Mapping m{s, e, off, {}};
      std::memcpy(m.perms, perms, 5);
      out.push_back(m);
    }
  }
  fclose(f);
  return out;
}


// Copies the data (holes stay holes) and the size of one file into another.
void copyFile(int from, int to) {
  struct stat st;
  if (fstat(from, &st) != 0 || ftruncate(to, st.st_size) != 0) throw NativeError{errno, "emulated file: size"};
  std::vector<char> buf(1 << 20);
  off_t at = 0;
  while (at < st.st_size) {
    off_t data = lseek(from, at, SEEK_DATA);
    if (data < 0) break;  // ENXIO: only a hole is left
    off_t hole = lseek(from, data, SEEK_HOLE);
    if (hole < 0) hole = st.st_size;
    for (off_t p = data; p < hole;) {
      ssize_t n = pread(from, buf.data(), size_t(std::min<off_t>(hole - p, off_t(buf.size()))), p);
      if (n <= 0) throw NativeError{n < 0 ? errno : EIO, "emulated file: read"};
      if (pwrite(to, buf.data(), size_t(n), p) != n) throw NativeError{errno, "emulated file: write"};
      p += n;
    }
    at = hole;
  }
}

int protOf(const char* perms) { return (perms[0] == 'r' ? 1 : 0) | (perms[1] == 'w' ? 2 : 0) | (perms[2] == 'x' ? 4 : 0); }

// The pages of a private mapping that the program wrote (anonymous, no longer the
// file's), with their contents.
std::vector<Region> writtenPages(pid_t pid, const Mapping& m) {
  std::vector<Region> out;
  int pm = open(procPath(pid, "pagemap").c_str(), O_RDONLY | O_CLOEXEC);
  if (pm < 0) throw NativeError{errno, "emulated file: pagemap"};
  size_t pages = (m.end - m.start) / kPage;
  std::vector<uint64_t> entries(pages);
  ssize_t n = pread(pm, entries.data(), pages * 8, off_t(m.start / kPage * 8));
  close(pm);
  if (n != ssize_t(pages * 8)) throw NativeError{EIO, "emulated file: pagemap read"};
  for (size_t i = 0; i < pages; i++) {
    bool present = entries[i] >> 63 & 1, swapped = entries[i] >> 62 & 1, filePage = entries[i] >> 61 & 1;
    if (!((present && !filePage) || swapped)) continue;
    Region r{m.start + i * kPage, std::vector<uint8_t>(kPage)};
    if (readMemory(pid, r.start, r.bytes.data(), kPage) != kPage) throw NativeError{EIO, "emulated file: page read"};
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

int64_t injectForFiles(pid_t pid, int nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
  uint64_t args[6] = {a0, a1, a2, a3, a4, a5};
  int64_t r = injectSyscall(pid, kStubSyscall, nr, args);
  if (r < 0 && r >= -4095) throw NativeError{int(-r), "emulated file: injected syscall " + std::to_string(nr)};
  return r;
}

void emuUnshare(pid_t pid, int fd) {
  std::string name = emuName(pid, fd);
  if (name.empty()) throw NativeError{EINVAL, "fd " + std::to_string(fd) + " is not an emulated file"};
  writeMemory(pid, kStubScratch, name.c_str(), name.size() + 1);
  int nfd = int(injectForFiles(pid, kNrMemfdCreate, kStubScratch, kMfdCloexec));
  int from = open(procPath(pid, "fd/" + std::to_string(fd)).c_str(), O_RDONLY | O_CLOEXEC);
  int to = open(procPath(pid, "fd/" + std::to_string(nfd)).c_str(), O_RDWR | O_CLOEXEC);
  try {
    if (from < 0 || to < 0) throw NativeError{errno, "emulated file: open"};
    copyFile(from, to);
  } catch (...) {
    if (from >= 0) close(from);
    if (to >= 0) close(to);
    throw;
  }
  close(from);
  close(to);
  for (const Mapping& m : mappingsOf(pid, name)) {
    bool shared = m.perms[3] == 's';
    std::vector<Region> keep = shared ? std::vector<Region>() : writtenPages(pid, m);
    int64_t got = injectForFiles(pid, kNrMmap, m.start, m.end - m.start, uint64_t(protOf(m.perms)),
                         (shared ? kMapShared : kMapPrivate) | kMapFixed, uint64_t(nfd), m.offset);
    if (uint64_t(got) != m.start) throw NativeError{EPROTO, "emulated file: remap moved"};
    for (const Region& r : keep) writeMemory(pid, r.start, r.bytes.data(), r.bytes.size());
  }
  injectForFiles(pid, kNrDup3, uint64_t(nfd), uint64_t(fd), kCloexec);
  injectForFiles(pid, kNrClose, uint64_t(nfd));
}

void emuUnshareWritable(pid_t pid) {
  for (int fd : emuFds(pid)) {
    bool writable = false;
    for (const Mapping& m : mappingsOf(pid, emuName(pid, fd))) writable |= m.perms[1] == 'w' && m.perms[3] == 's';
    if (writable) emuUnshare(pid, fd);
  }
}

}  // namespace rw
