/* Four threads add to one counter under a pthread spinlock, many times each. glibc's
 * pthread_spin_lock waits in a loop no 5-byte patch fits in (pause; cmpl; jg; jmp
 * back): a thread preempted there must still be switched out, or a holder preempted
 * inside the critical section leaves the others spinning for ever. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_spinlock_t lock;
static long counter;
static long rounds;

static void *worker(void *arg) {
  (void)arg;
  for (long i = 0; i < rounds; i++) {
    pthread_spin_lock(&lock);
    counter++;
    pthread_spin_unlock(&lock);
  }
  return 0;
}

int main(int argc, char **argv) {
  rounds = argc > 1 ? atol(argv[1]) : 2000000;
  pthread_spin_init(&lock, PTHREAD_PROCESS_PRIVATE);
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, worker, 0);
  for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
  printf("counter %ld of %ld\n", counter, 4 * rounds);
  return counter == 4 * rounds ? 0 : 1;
}
