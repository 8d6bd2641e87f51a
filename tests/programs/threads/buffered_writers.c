/* Several threads write at once (tests/integration/syscallbuf-threads.test.ts): three
 * writers each send 600 numbered records (more than a pipe holds) through one pipe
 * and append them to one regular file, while the main thread reads the pipe (its
 * reads block when the pipe is empty, and the writers' writes block when it is full:
 * the desched event hands the process to the next thread). Prints what main received
 * and the file's size, which do not depend on the interleaving. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define WRITERS 3
#define RECORDS 600

struct record { int writer, seq; char pad[56]; };

static int pipefd[2];
static int filefd;

static void *writer(void *arg) {
  struct record r = {(int)(long)arg, 0, {0}};
  for (int i = 0; i < RECORDS; i++) {
    r.seq = i;
    if (write(pipefd[1], &r, sizeof r) != (ssize_t)sizeof r) return (void *)1;
    if (write(filefd, &r, sizeof r) != (ssize_t)sizeof r) return (void *)2;
  }
  return NULL;
}

int main(void) {
  char path[] = "/tmp/rewind-bufwriters-XXXXXX";
  filefd = mkstemp(path);
  if (filefd < 0 || pipe(pipefd) != 0) return 2;
  unlink(path);
  int flags = fcntl(filefd, F_GETFL);
  fcntl(filefd, F_SETFL, flags | O_APPEND);
  pthread_t t[WRITERS];
  for (long i = 0; i < WRITERS; i++) pthread_create(&t[i], NULL, writer, (void *)i);
  long got[WRITERS] = {0}, seqsum[WRITERS] = {0}, bad = 0;
  int next[WRITERS] = {0};
  for (int n = 0; n < WRITERS * RECORDS; n++) {
    struct record r;
    size_t have = 0;
    while (have < sizeof r) {
      ssize_t k = read(pipefd[0], (char *)&r + have, sizeof r - have);
      if (k <= 0) return 3;
      have += (size_t)k;
    }
    if (r.writer < 0 || r.writer >= WRITERS) { bad++; continue; }
    if (r.seq != next[r.writer]) bad++;  /* each writer's records arrive in its order */
    next[r.writer] = r.seq + 1;
    got[r.writer]++;
    seqsum[r.writer] += r.seq;
  }
  for (int i = 0; i < WRITERS; i++) {
    void *ret;
    pthread_join(t[i], &ret);
    if (ret) bad++;
  }
  struct stat st;
  fstat(filefd, &st);
  for (int i = 0; i < WRITERS; i++) printf("writer %d: %ld records, seq sum %ld\n", i, got[i], seqsum[i]);
  printf("file: %lld bytes, out of order %ld\n", (long long)st.st_size, bad);
  return 0;
}
