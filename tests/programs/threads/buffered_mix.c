/* Threads whose syscalls go through their own syscall buffers, interleaved
 * (tests/integration/syscallbuf-threads.test.ts): four workers take turns over a
 * mutex and a condition variable (a futex wake at every hand-over), and in each turn
 * pread a shared file, fstat it, read a CPU clock the vdso does not serve and ask
 * for their pid; a reader thread blocks in a read of a pipe that the main thread
 * fills later. Everything printed is deterministic, so the native run's output is
 * the recording's and the replay's. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn = PTHREAD_COND_INITIALIZER;
static int whose;          /* the worker whose turn it is */
static long rounds;
static int fd;             /* the shared file */
static int pipefd[2];
static unsigned long sums[WORKERS];
static long bad[WORKERS];

static void *worker(void *arg) {
  int me = (int)(long)arg;
  unsigned char chunk[64];
  for (long i = 0; i < rounds; i++) {
    pthread_mutex_lock(&lock);
    while (whose != me) pthread_cond_wait(&turn, &lock);
    off_t at = (off_t)((i * WORKERS + me) % 64) * 64;
    if (pread(fd, chunk, sizeof chunk, at) != (ssize_t)sizeof chunk) bad[me]++;
    for (size_t k = 0; k < sizeof chunk; k++) sums[me] += chunk[k] * (k + 1);
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size != 4096) bad[me]++;
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) bad[me]++;
    if (getpid() <= 0) bad[me]++;
    whose = (whose + 1) % WORKERS;
    pthread_cond_broadcast(&turn);
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

static void *reader(void *arg) {
  (void)arg;
  char got[16] = {0};
  ssize_t n = read(pipefd[0], got, sizeof got - 1);  /* blocks until main writes */
  printf("reader got %zd bytes: %s\n", n, got);
  return NULL;
}

int main(int argc, char **argv) {
  rounds = argc > 1 ? atol(argv[1]) : 200;
  char path[] = "/tmp/rewind-bufmix-XXXXXX";
  fd = mkstemp(path);
  if (fd < 0) return 2;
  unlink(path);
  unsigned char data[4096];
  for (int i = 0; i < 4096; i++) data[i] = (unsigned char)(i * 7 + i / 64);
  if (pwrite(fd, data, sizeof data, 0) != (ssize_t)sizeof data) return 3;
  if (pipe(pipefd) != 0) return 4;
  pthread_t r, w[WORKERS];
  pthread_create(&r, NULL, reader, NULL);
  for (long i = 0; i < WORKERS; i++) pthread_create(&w[i], NULL, worker, (void *)i);
  for (int i = 0; i < WORKERS; i++) pthread_join(w[i], NULL);
  if (write(pipefd[1], "token", 5) != 5) return 5;
  pthread_join(r, NULL);
  for (int i = 0; i < WORKERS; i++) printf("worker %d: sum %lu, bad %ld\n", i, sums[i], bad[i]);
  return 0;
}
