// Syscalls that change a mapped file: see record_files.h.
#include "record_files.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "ptrace_ops.h"

namespace rw {
namespace {

enum : int64_t {
  kWrite = 1, kOpen = 2, kPwrite64 = 18, kWritev = 20, kSendfile = 40, kTruncate = 76, kFtruncate = 77,
  kOpenat = 257, kSplice = 275, kFallocate = 285, kPwritev = 296, kCopyFileRange = 326, kPwritev2 = 328,
};
constexpr uint64_t kOTrunc = 01000;
constexpr uint64_t kToEnd = ~0ull >> 1;

std::string fdPath(pid_t pid, int64_t fd) { return "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd); }

// The file position of the tracee's fd (after the call).
bool filePosition(pid_t pid, int64_t fd, uint64_t& pos) {
  std::string path = "/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd);
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return false;
  unsigned long long v = 0;
  bool ok = std::fscanf(f, "pos: %llu", &v) == 1;
  std::fclose(f);
  pos = v;
  return ok;
}

// A path argument of the tracee, resolved the way the kernel did (relative to its cwd).
std::string tracePath(pid_t pid, uint64_t addr) {
  char buf[4096];
  size_t n = readMemory(pid, addr, buf, sizeof buf - 1);
  buf[n] = 0;
  std::string p(buf, strnlen(buf, n));
  return p.empty() || p[0] == '/' ? p : "/proc/" + std::to_string(pid) + "/cwd/" + p;
}

}  // namespace

bool fileChangeStop(pid_t pid, Session& s, int64_t nr, int64_t result, LoopResult& out) {
  uint64_t a[6];
  args6(s.entry, a);
  int64_t fd = -1;
  std::string path;
  uint64_t from = 0, to = 0;
  uint64_t pos = 0;
  switch (nr) {
    case kWrite:
    case kWritev:
    case kSendfile:
      fd = int64_t(int32_t(a[0]));
      if (result <= 0 || !filePosition(pid, fd, pos)) return false;
      from = pos - uint64_t(result), to = pos;
      break;
    case kPwrite64:
    case kPwritev:
    case kPwritev2:
      fd = int64_t(int32_t(a[0]));
      if (result <= 0) return false;
      if (nr == kPwritev2 && int64_t(a[3]) == -1) {
        if (!filePosition(pid, fd, pos)) return false;
        from = pos - uint64_t(result), to = pos;
      } else {
        from = a[3], to = a[3] + uint64_t(result);
      }
      break;
    case kSplice:
    case kCopyFileRange: {
      fd = int64_t(int32_t(a[2]));
      if (result <= 0) return false;
      uint64_t after = 0;
      if (a[3] ? readMemory(pid, a[3], &after, 8) != 8 : !filePosition(pid, fd, after)) return false;
      from = after - uint64_t(result), to = after;
      break;
    }
    case kFallocate:
      fd = int64_t(int32_t(a[0]));
      from = a[2], to = a[2] + a[3];
      break;
    case kFtruncate:
      fd = int64_t(int32_t(a[0]));
      from = to = a[1];  // the size changes; the bytes past it are gone or zero
      break;
    case kTruncate:
      path = tracePath(pid, a[0]);
      from = to = a[1];
      break;
    case kOpen:
    case kOpenat:
      if (!((nr == kOpen ? a[1] : a[2]) & kOTrunc)) return false;
      fd = result;
      from = to = 0;
      break;
    default:
      return false;
  }
  if (path.empty()) path = fdPath(pid, fd);
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (!s.mappedFiles.count({uint64_t(st.st_dev), uint64_t(st.st_ino)})) return false;
  if (to > kToEnd) to = kToEnd;
  out.stop.reason = "file-changed";
  out.stop.big("dev", uint64_t(st.st_dev));
  out.stop.big("ino", uint64_t(st.st_ino));
  out.stop.num("fd", fd);
  out.stop.str("path", path);
  out.stop.big("from", from);
  out.stop.big("to", to);
  out.stop.big("size", uint64_t(st.st_size));
  return true;
}

}  // namespace rw
