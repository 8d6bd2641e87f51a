/* The environment side of rewind's syscall buffer (rwpreload.c, docs/syscallbuf.md):
 * the library takes itself out of LD_PRELOAD at start-up, so the program and its
 * children see the environment they were given, and puts itself back into the
 * environment of a program the process execs, so that the new program is buffered
 * too (it takes itself out again there). Same build rules as rwpreload.c: no libc,
 * no SSE registers. */
#include <stddef.h>

#define NR_execve 59

long rw_traced(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

static long sys(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
  return rw_traced(nr, a0, a1, a2, a3, a4, a5);
}

/* This library's path, as LD_PRELOAD named it (rw_strip_env): put back into the
 * environment of a program the process execs, so that it is buffered too. */
static char self_path[1024];
static long self_len;

#define EXEC_MAX_ENV 1024
#define EXEC_MAX_PRELOAD 4096

/* execve with this library added to the new program's LD_PRELOAD: the program
 * takes it out again at its start (rw_strip_env), so it sees the environment it
 * was given. The new array and string live on this stack, which the kernel reads
 * before the old image goes: in a vfork child, below the frames of the suspended
 * parent, which it leaves alone; a posix_spawn child has a stack of its own (glibc
 * gives it 32 KiB and more). A larger environment, or one that
 * names the library already, is passed as it is, and so is every execve before
 * rw_strip_env found the library's name. Always traced. */
long rw_execve(const long *a) {
  if (!self_len) return sys(NR_execve, a[0], a[1], a[2], 0, 0, 0);
  char **envp = (char **)a[2];
  char *env[EXEC_MAX_ENV + 2];
  char preload[EXEC_MAX_PRELOAD];
  static const char key[] = "LD_PRELOAD=";
  long n = 0, at = -1;
  for (; envp && envp[n]; n++) {
    if (n >= EXEC_MAX_ENV) return sys(NR_execve, a[0], a[1], a[2], 0, 0, 0);
    int match = 1;
    for (int i = 0; key[i] && match; i++) match = envp[n][i] == key[i];
    if (match && at < 0) at = n;
    env[n] = envp[n];
  }
  long len = 0;
  for (const char *k = key; *k; k++) preload[len++] = *k;
  for (long i = 0; i < self_len; i++) preload[len++] = self_path[i];
  if (at >= 0) {
    const char *rest = envp[at] + sizeof key - 1;
    long rl = 0;
    while (rest[rl]) rl++;
    if (len + 1 + rl + 1 > EXEC_MAX_PRELOAD) return sys(NR_execve, a[0], a[1], a[2], 0, 0, 0);
    for (long i = 0; i + self_len <= rl; i++) {  /* named already (the program put it back) */
      int same = 1;
      for (long j = 0; j < self_len && same; j++) same = rest[i + j] == self_path[j];
      if (same) return sys(NR_execve, a[0], a[1], a[2], 0, 0, 0);
    }
    if (rl) preload[len++] = ':';
    for (long i = 0; i < rl; i++) preload[len++] = rest[i];
  }
  preload[len] = 0;
  if (at >= 0) {
    env[at] = preload;
  } else {
    env[n++] = preload;
  }
  env[n] = 0;
  return sys(NR_execve, a[0], a[1], (long)env, 0, 0, 0);
}

/* Takes this library out of LD_PRELOAD, so the program and its children see the
 * environment they were given (/proc/self/environ still shows the original). */
void rw_strip_env(char **envp) {
  static const char key[] = "LD_PRELOAD=", me[] = "/librwpreload.so";
  for (char **e = envp; e && *e; e++) {
    char *v = *e;
    int match = 1;
    for (int i = 0; key[i]; i++) match &= v[i] == key[i];
    if (!match) continue;
    v += sizeof key - 1;
    char *end = v;
    while (*end && *end != ':' && *end != ' ') end++;
    long ml = sizeof me - 1;
    if (end - v < ml) return;
    for (long i = 0; i < ml; i++)
      if (end[-ml + i] != me[i]) return;
    if (end - v < (long)sizeof self_path) {
      self_len = end - v;
      for (long i = 0; i < self_len; i++) self_path[i] = v[i];
    }
    if (*end == 0) {
      for (char **f = e; *f; f++) f[0] = f[1];
    } else {
      char *src = end + 1, *dst = v;
      while ((*dst++ = *src++)) {
      }
    }
    return;
  }
}
