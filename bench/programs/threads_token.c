/* Benchmark: two threads hand a token back and forth over a mutex and a condition
 * variable, 100 000 times each way (futex waits and wakes at every hand-over). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn = PTHREAD_COND_INITIALIZER;
static int holder;  /* 0: main's turn, 1: the other thread's */
static long handovers;

static void *other(void *arg) {
  for (long i = 0; i < handovers; i++) {
    pthread_mutex_lock(&lock);
    while (holder != 1) pthread_cond_wait(&turn, &lock);
    holder = 0;
    pthread_cond_signal(&turn);
    pthread_mutex_unlock(&lock);
  }
  return arg;
}

int main(int argc, char **argv) {
  handovers = argc > 1 ? atol(argv[1]) : 100000;
  pthread_t t;
  pthread_create(&t, NULL, other, NULL);
  for (long i = 0; i < handovers; i++) {
    pthread_mutex_lock(&lock);
    while (holder != 0) pthread_cond_wait(&turn, &lock);
    holder = 1;
    pthread_cond_signal(&turn);
    pthread_mutex_unlock(&lock);
  }
  pthread_join(t, NULL);
  printf("%ld hand-overs\n", handovers);
  return 0;
}
