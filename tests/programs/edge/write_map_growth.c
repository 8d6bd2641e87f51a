/* write() appending to a file that is mapped beyond its end: the pages the file grows
 * into become readable through the mapping (before that they raise SIGBUS). */
#include "edge.h"
#include <setjmp.h>

static sigjmp_buf env;
static void on_bus(int sig) {
  printf("caught signal %d\n", sig);
  siglongjmp(env, 1);
}

int main(void) {
  signal(SIGBUS, on_bus);
  const char *path = scratch("growth.dat");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd);
  CHECK(write(fd, "first", 5));
  volatile char *p = mmap(NULL, 3 * 4096, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  int bus = 0;
  if (sigsetjmp(env, 1) == 0) (void)p[2 * 4096];
  else bus = 1;
  NEED(bus, "SIGBUS beyond the end of a mapped file");
  char page[4096];
  memset(page, 'g', sizeof page);
  CHECK(lseek(fd, 0, SEEK_END));
  CHECK(write(fd, page, sizeof page));
  CHECK(write(fd, page, sizeof page));
  printf("after appending: %c %c %c\n", p[0], p[4096], p[2 * 4096 + 4]);
  NEED(p[4096] == 'g' && p[2 * 4096 + 4] == 'g', "appended bytes appear in the mapping");
  unlink(path);
  PASS();
  return 0;
}
