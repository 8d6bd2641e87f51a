/* The state letter of a thread of this process, as /proc says it ('S': asleep in
 * the kernel, 'Z': ended while its process lives on, '?': unknown): how the gdb test
 * programs wait until a thread stands where the test wants it. */
#ifndef THREAD_STATE_H
#define THREAD_STATE_H
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

static inline char state_of(pid_t tid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  FILE *f = fopen(path, "r");
  if (!f) return '?';
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *close = strrchr(buf, ')');
  return close && close[1] == ' ' ? close[2] : '?';
}
#endif
