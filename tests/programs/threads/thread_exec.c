/* A thread other than the first execs: the kernel ends the other threads. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *work(void *arg) {
  char *argv[] = {"echo", "exec from a thread", NULL};
  execv("/bin/echo", argv);
  return arg;
}

int main(void) {
  pthread_t t;
  printf("main starts a worker that execs\n");
  fflush(stdout);
  pthread_create(&t, NULL, work, NULL);
  pthread_join(t, NULL);
  return 1;
}
