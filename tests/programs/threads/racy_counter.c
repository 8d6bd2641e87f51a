/* Four threads add to one counter without a lock, and yield between the read and
 * the write every few rounds: another thread runs in between, and updates are lost.
 * How many depends on the interleaving, which replay must repeat exactly. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#define THREADS 4
#define ROUNDS 20000

static volatile long counter;

static void *work(void *arg) {
  long seed = (long)arg;
  for (int i = 0; i < ROUNDS; i++) {
    long v = counter;
    if ((i + seed) % 7 == 0 || i % 13 == 0) sched_yield();
    counter = v + 1;
  }
  return NULL;
}

int main(void) {
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, work, (void *)i);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  printf("total %ld of %d (%s)\n", counter, THREADS * ROUNDS, counter < THREADS * ROUNDS ? "updates lost" : "none lost");
  return 0;
}
