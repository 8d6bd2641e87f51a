/* A forked child makes a thread (recorded and replayed, as every thread is);
 * the parent, recorded throughout, waits for it and prints its status. */
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void *hello(void *arg) {
  (void)arg;
  printf("thread in the child\n");
  fflush(stdout);
  return NULL;
}

int main(void) {
  printf("parent starts\n");
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, hello, NULL) != 0) _exit(1);
    pthread_join(t, NULL);
    _exit(3);
  }
  int st;
  waitpid(c, &st, 0);
  printf("child exited %d\n", WEXITSTATUS(st));
  return 0;
}
