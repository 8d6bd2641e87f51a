/* Shared by the edge programs (tests/programs/edge/NAME.c, run by
 * tests/integration/edge.test.ts): each program checks one kernel or CPU
 * behaviour, prints what it observed (never raw pointers or timings), and
 * ends with "PASS". When the machine does not show the behaviour natively it
 * prints a "native behaviour missing" line and exits 2, so a test of a
 * behaviour the machine lacks can never pass. Output is line-buffered so that
 * a program that dies of a signal has printed everything before. */
#ifndef EDGE_H
#define EDGE_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The behaviour under test did not happen: natively this means the machine
 * lacks it (the test fails); under rewind it shows as output that differs. */
#define NEED(cond, what)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      printf("native behaviour missing: %s (line %d, errno %s)\n", what, __LINE__, \
             strerrorname_np(errno) ? strerrorname_np(errno) : "0");                \
      fflush(stdout);                                                               \
      _exit(2);                                                                     \
    }                                                                               \
  } while (0)

/* A call the program needs for its set-up failed. */
#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) < 0) {                                                        \
      printf("setup failed: %s: %s\n", #call, strerrorname_np(errno)); \
      fflush(stdout);                                                        \
      _exit(3);                                                              \
    }                                                                        \
  } while (0)

#define PASS() (printf("PASS\n"), fflush(stdout))

static inline const char *errname(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "0";
}

/* FNV-1a, to print a digest of a buffer instead of its bytes. */
static inline uint32_t fnv(const void *p, size_t n) {
  const unsigned char *b = p;
  uint32_t h = 0x811c9dc5u;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 16777619u;
  return h;
}

/* A scratch file in the directory given by $EDGE_DIR (the test makes one per
 * run), else in /tmp with the pid in its name. Never printed. */
static inline const char *scratch(const char *name) {
  static char path[4][512];
  static int next;
  const char *dir = getenv("EDGE_DIR");
  char *p = path[next++ % 4];
  if (dir && *dir) snprintf(p, 512, "%s/%s", dir, name);
  else snprintf(p, 512, "/tmp/edge-%d-%s", (int)getpid(), name);
  return p;
}

__attribute__((constructor)) static void edge_line_buffered(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
#endif
