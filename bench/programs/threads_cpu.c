/* Benchmark: four threads compute without syscalls (each its own loop), the main
 * thread joins them. With REWIND_BENCH_CPU=FILE set, the process's total CPU time
 * (seconds, every thread) is written to FILE: the native run's, which the bench
 * compares the recording's wall time with. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define THREADS 4

static long rounds;
static volatile unsigned long sink[THREADS];

static void *work(void *arg) {
  long i = (long)arg;
  unsigned long x = (unsigned long)i + 1;
  for (long n = 0; n < rounds; n++) x = x * 6364136223846793005UL + 1442695040888963407UL;
  sink[i] = x;
  return NULL;
}

int main(int argc, char **argv) {
  rounds = argc > 1 ? atol(argv[1]) : 300000000;
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, work, (void *)i);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  const char *out = getenv("REWIND_BENCH_CPU");
  if (out) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    FILE *f = fopen(out, "w");
    if (f) {
      fprintf(f, "%.6f\n", ts.tv_sec + ts.tv_nsec / 1e9);
      fclose(f);
    }
  }
  printf("%lu\n", sink[0] ^ sink[1] ^ sink[2] ^ sink[3]);
  return 0;
}
