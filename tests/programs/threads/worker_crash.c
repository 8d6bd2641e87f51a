/* A worker thread writes a line and dies of SIGSEGV, which kills the process while
 * the main thread waits in pthread_join. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *work(void *arg) {
  (void)!write(1, "worker about to crash\n", 22);
  *(volatile int *)arg = 1;
  return NULL;
}

int main(void) {
  pthread_t t;
  printf("main starts a worker\n");
  fflush(stdout);
  pthread_create(&t, NULL, work, NULL);
  pthread_join(t, NULL);
  printf("not reached\n");
  return 0;
}
