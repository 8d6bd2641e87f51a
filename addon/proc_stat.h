// One numeric field of /proc/PID/stat, numbered as in proc(5) (10 minflt, 14 utime,
// ...). The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'. Read with open/read: the callers run on the tracer
// thread, between ptrace stops.
#pragma once
#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace rw {

// Field `field` (>= 3) of pid's /proc/PID/stat; 0 when the process is gone.
inline uint64_t procStatField(pid_t pid, int field) {
  char path[64], buf[1024];
  std::snprintf(path, sizeof path, "/proc/%d/stat", int(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  if (!p) return 0;
  p++;  // field 3 (the state) is the first after it
  for (int f = 3; f < field && p; f++) p = std::strchr(p + 1, ' ');
  return p ? std::strtoull(p + 1, nullptr, 10) : 0;
}

}  // namespace rw
