// A forked child runs live, untraced: its CPUID must not trap. Checks the child's
// answer against the parent's, before and after a vfork+exec.
#include <cpuid.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned vendorWord(void) {
  unsigned a, b, c, d;
  __cpuid(0, a, b, c, d);
  return b;
}

static int childAgrees(unsigned parent) {
  pid_t p = fork();
  if (p == 0) _exit(vendorWord() == parent ? 7 : 8);
  int st;
  waitpid(p, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 7;
}

int main(void) {
  unsigned parent = vendorWord();
  int first = childAgrees(parent);
  pid_t v = vfork();
  if (v == 0) {
    execl("/bin/true", "true", (char*)0);
    _exit(9);
  }
  int st;
  waitpid(v, &st, 0);
  printf("fork child agrees: %d, vfork child exited %d, fork child agrees: %d\n", first,
         WIFEXITED(st) ? WEXITSTATUS(st) : -1, childAgrees(parent));
  return 0;
}
