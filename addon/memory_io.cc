#include "memory_io.h"

#include <sys/uio.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "ptrace_ops.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr uint64_t kMaxCapture = 1ull << 30;

struct Iov {
  uint64_t base, len;
};

std::vector<Iov> readIovecs(pid_t pid, uint64_t addr, uint64_t count) {
  if (count > 1024) count = 1024;
  std::vector<Iov> iov(count);
  size_t got = readMemory(pid, addr, iov.data(), count * sizeof(Iov));
  iov.resize(got / sizeof(Iov));
  return iov;
}

bool emit(pid_t pid, uint64_t addr, uint64_t len, RecordWriter& w) {
  if (addr == 0 || len == 0) return false;
  if (len > kMaxCapture) len = kMaxCapture;
  std::vector<uint8_t> buf(len);
  size_t got = readMemory(pid, addr, buf.data(), len);
  if (got == 0) return false;
  w.u64(addr);
  w.u32(uint32_t(got));
  w.bytes(buf.data(), got);
  return true;
}

uint32_t scatter(pid_t pid, const std::vector<Iov>& iov, int64_t total, RecordWriter& w) {
  uint32_t n = 0;
  for (const Iov& v : iov) {
    if (total <= 0) break;
    uint64_t take = std::min<uint64_t>(v.len, uint64_t(total));
    n += emit(pid, v.base, take, w);
    total -= int64_t(take);
  }
  return n;
}

// Classic tty requests whose numbers carry no size.
uint64_t legacyIoctlSize(uint64_t req) {
  switch (req) {
    case 0x5401: return 60;  // TCGETS (kernel termios 36, over-capture to glibc's 60)
    case 0x5413: return 8;   // TIOCGWINSZ
    case 0x541B: return 4;   // FIONREAD
    case 0x540F: return 4;   // TIOCGPGRP
    case 0x5429: return 4;   // TIOCGSID
    case 0x5402: case 0x5403: case 0x5404: case 0x5414: case 0x5410: case 0x540E:
    case 0x5421: case 0x5451: case 0x5450: case 0x541C: case 0x5422:
      return 0;  // TCSETS* / TIOCSWINSZ / TIOCSPGRP / TIOCSCTTY / FIONBIO / FIOCLEX / FIONCLEX...: no output
  }
  return UINT64_MAX;
}

uint64_t ioctlSize(uint64_t req) {
  req &= 0xffffffffu;
  uint64_t dir = req >> 30, size = (req >> 16) & 0x3fff;
  if (dir != 0 && size != 0) return (dir & 2) ? size : 0;  // _IOR / _IOWR write to user; _IOW only reads
  return legacyIoctlSize(req);
}

}  // namespace

bool ioctlNeedsGeneric(uint64_t request) { return ioctlSize(request) == UINT64_MAX; }

uint32_t captureOutputs(pid_t pid, const Row& row, const uint64_t a[6], int64_t ret, RecordWriter& w) {
  uint32_t n = 0;
  for (int k = 0; k < row.nOuts && k < kMaxOuts; k++) {
    const auto& o = row.outs[k];
    uint64_t ptr = a[o.arg];
    if (ptr == 0) continue;
    uint64_t len = 0;
    switch (o.size) {
      case kSizeFixed: len = uint64_t(o.param); break;
      case kSizeFixedIfOk: len = ret >= 0 ? uint64_t(o.param) : 0; break;
      case kSizeFutexWord: {
        uint64_t cmd = a[1] & ~uint64_t(0x180);  // FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME
        len = cmd < 31 && ((uint64_t(o.param) >> cmd) & 1) ? 4 : 0;
        break;
      }
      case kSizeArg: len = a[o.param]; break;
      case kSizeRet: len = ret > 0 ? uint64_t(ret) : 0; break;
      case kSizeRetTimes: len = ret > 0 ? uint64_t(ret) * uint64_t(o.param) : 0; break;
      case kSizeDerefU32: {
        uint32_t v = 0;
        if (a[o.param] && readMemory(pid, a[o.param], &v, 4) == 4) len = v;
        if (len > 4096) len = 4096;
        break;
      }
      case kSizeFdSet: len = ((a[o.param] & 0xffffffffu) + 63) / 64 * 8; break;
      case kSizeArgTimes: len = a[o.param & 0xff] * uint64_t(o.param >> 8); break;
      case kSizeIoctl: {
        uint64_t s = ioctlSize(a[1]);
        len = s == UINT64_MAX ? 0 : s;
        break;
      }
      case kSizeIovecRet:
        n += scatter(pid, readIovecs(pid, ptr, a[o.param]), ret, w);
        continue;
      case kSizeMsghdr: {
        uint8_t m[56];
        if (readMemory(pid, ptr, m, 56) != 56) continue;
        n += emit(pid, ptr, 56, w);
        uint64_t name, iov, iovlen, control, controllen;
        uint32_t namelen;
        std::memcpy(&name, m, 8);
        std::memcpy(&namelen, m + 8, 4);
        std::memcpy(&iov, m + 16, 8);
        std::memcpy(&iovlen, m + 24, 8);
        std::memcpy(&control, m + 32, 8);
        std::memcpy(&controllen, m + 40, 8);
        n += emit(pid, name, std::min<uint64_t>(namelen, 128), w);
        n += emit(pid, control, std::min<uint64_t>(controllen, 65536), w);
        n += scatter(pid, readIovecs(pid, iov, iovlen), ret, w);
        continue;
      }
      default: continue;
    }
    n += emit(pid, ptr, len, w);
  }
  return n;
}

std::vector<uint8_t> gatherInput(pid_t pid, int32_t check, const uint64_t a[6], uint64_t limit) {
  std::vector<uint8_t> out;
  auto append = [&](uint64_t addr, uint64_t len) {
    len = std::min<uint64_t>(len, limit - out.size());
    if (len == 0 || addr == 0) return;
    size_t at = out.size();
    out.resize(at + len);
    out.resize(at + readMemory(pid, addr, out.data() + at, len));
  };
  std::vector<Iov> iov;
  switch (check) {
    case kCheckBuffer: append(a[1], a[2]); return out;
    case kCheckIovec: iov = readIovecs(pid, a[1], a[2]); break;
    case kCheckMsghdr: {
      uint8_t m[56];
      if (readMemory(pid, a[1], m, 56) != 56) return out;
      uint64_t base, count;
      std::memcpy(&base, m + 16, 8);
      std::memcpy(&count, m + 24, 8);
      iov = readIovecs(pid, base, count);
      break;
    }
    default: return out;
  }
  for (const Iov& v : iov) append(v.base, v.len);
  return out;
}

std::vector<Region> snapshotWritable(pid_t pid) {
  std::vector<Region> regions;
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  uint64_t total = 0;
  while (std::getline(maps, line)) {
    unsigned long long start, end;
    char perms[8] = {0};
    if (sscanf(line.c_str(), "%llx-%llx %7s", &start, &end, perms) != 3) continue;
    if (perms[1] != 'w' || line.find("[vvar") != std::string::npos) continue;
    total += end - start;
    if (total > kMaxCapture) throw NativeError{E2BIG, "generic syscall capture: more than 1 GiB of writable memory"};
    Region r{start, std::vector<uint8_t>(end - start)};
    r.bytes.resize(readMemory(pid, start, r.bytes.data(), r.bytes.size()));
    regions.push_back(std::move(r));
  }
  return regions;
}

uint32_t emitDifferences(pid_t pid, const std::vector<Region>& before, RecordWriter& w) {
  uint32_t n = 0;
  std::vector<Region> after = snapshotWritable(pid);
  for (const Region& b : before) {
    for (const Region& a : after) {
      if (a.start != b.start) continue;
      size_t len = std::min(a.bytes.size(), b.bytes.size());
      size_t i = 0;
      while (i < len) {
        if (a.bytes[i] == b.bytes[i]) { i++; continue; }
        size_t j = i, lastDiff = i;
        while (j < len && j - lastDiff < 32) {
          if (a.bytes[j] != b.bytes[j]) lastDiff = j;
          j++;
        }
        w.u64(a.start + i);
        w.u32(uint32_t(lastDiff + 1 - i));
        w.bytes(a.bytes.data() + i, lastDiff + 1 - i);
        n++;
        i = lastDiff + 1;
      }
    }
  }
  return n;
}

uint32_t crc32(uint32_t crc, const uint8_t* data, size_t n) {
  static uint32_t table[256];
  static bool ready = false;
  if (!ready) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = true;
  }
  crc = ~crc;
  for (size_t i = 0; i < n; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

}  // namespace rw
