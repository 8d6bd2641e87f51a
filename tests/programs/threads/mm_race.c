/* Four threads map, protect, touch and unmap regions of varied sizes, 1000 times
 * each: one thread's munmap frees a range another thread's mmap may be given at
 * once. The replay must make these calls in the order the kernel made them, or a
 * later mprotect finds its range unmapped (ENOMEM) and the replay diverges. */
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <string.h>
static void *worker(void *arg) {
  long id = (long)arg, sum = 0;
  for (int i = 0; i < 1000; i++) {
    size_t len = (size_t)(1 + (i + id) % 7) << 16;
    char *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return (void *)1; }
    if (mprotect(p, 4096, PROT_READ | PROT_WRITE) != 0) { perror("mprotect"); return (void *)1; }
    p[0] = (char)i; sum += p[0];
    if (munmap(p, len) != 0) { perror("munmap"); return (void *)1; }
  }
  return (void *)0;
}
int main(void) {
  pthread_t t[4];
  for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, worker, (void *)i);
  int bad = 0;
  for (int i = 0; i < 4; i++) { void *r; pthread_join(t[i], &r); bad |= r != 0; }
  printf("%s\n", bad ? "failed" : "ok");
  return bad;
}
