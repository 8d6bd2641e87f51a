/* A child stores into memory it shares with the program, then says so through a
 * pipe; the program reads the pipe (no wait) and then the shared memory. */
#include "edge.h"

int main(void) {
  char *shm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(shm == MAP_FAILED ? -1 : 0);
  int p[2];
  CHECK(pipe(p));
  pid_t c = fork();
  CHECK(c);
  if (c == 0) {
    strcpy(shm + 4096 + 7, "stored by the child");
    write(p[1], "k", 1);
    pause();  /* ended by the parent */
    _exit(0);
  }
  char k;
  CHECK(read(p[0], &k, 1));
  printf("after the pipe said %c: %s\n", k, shm + 4096 + 7);
  NEED(strcmp(shm + 4096 + 7, "stored by the child") == 0, "memory shared with a child");
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
  PASS();
  return 0;
}
