// A tracee's user CPU time, for the budgets of point searches (record_preempt.cc,
// replay_points.cc): CPU time, not the wall clock, so that a loaded machine slows
// a search without ending it early.
#pragma once
#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace rw {

// utime in clock ticks (/proc/PID/stat field 14); 0 if the process is gone.
inline uint64_t processUserTicks(pid_t pid) {
  char path[64], buf[1024];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  unsigned long ut = 0;
  // after ")": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
  if (p) std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu", &ut);
  return ut;
}

}  // namespace rw
