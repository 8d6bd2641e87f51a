/* hot_maps: a hot function, then events that change the address space, for
 * reverse searches that cross them (docs/timeline.md, "Counting across mapping
 * events"). hot(n) is called argv[1] times (default 300000), n numbering the calls
 * from 0; then, each in its own syscalls: malloc of 64 MiB (an anonymous mmap),
 * heap growth with sbrk (brk), a read-only mmap of the program's own file and its
 * munmap, madvise(MADV_DONTNEED) on part of the big block, realloc of the big block
 * (mremap), a JIT page (mmap RWX, mprotect to RX, called, munmap), dlopen of libm
 * (file mappings with PROT_EXEC) and a call of its cbrt(), a fork and a vfork whose
 * children exit at once, the heap shrunk back (brk), free of the big block
 * (munmap); then finish(). Prints a checksum of what it read. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

volatile unsigned long sum, last;

/* one byte a page: not memset, whose `rep stosb` a checkpoint may stand in the middle
 * of (a state no counted run arrives at: docs/timeline.md, "Counting across mapping
 * events", Status) */
static void touch(char *p, unsigned long len, char v) {
  for (unsigned long i = 0; i < len; i += 4096) p[i] = v;
}

__attribute__((noinline)) void hot(unsigned long n) { last = n; sum += n; }
__attribute__((noinline)) void finish(void) { __asm__ volatile(""); }

int main(int argc, char **argv) {
  unsigned long calls = argc > 1 ? strtoul(argv[1], NULL, 10) : 300000;
  unsigned long check = 0;
  for (unsigned long n = 0; n < calls; n++) hot(n);

  char *big = malloc(64u << 20); /* above the mmap threshold: its own mapping */
  if (!big) return 1;
  touch(big, 64u << 20, 1);
  char *grown = sbrk(1 << 20);
  if (grown == (void *)-1) return 2;
  touch(grown, 1 << 20, 2);

  int fd = open(argv[0], O_RDONLY);
  if (fd < 0) return 3;
  unsigned char *file = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
  if (file == MAP_FAILED) return 4;
  check += file[1] + file[2] + file[3]; /* "ELF" */
  munmap(file, 8192);
  close(fd);

  char *page = (char *)(((uintptr_t)big + 4095) & ~(uintptr_t)4095);
  madvise(page, 1 << 20, MADV_DONTNEED);
  check += (unsigned char)page[0]; /* zero again */
  big = realloc(big, 128u << 20); /* mremap of the mapping */
  if (!big) return 5;
  check += (unsigned char)big[(64u << 20) - 1];

  unsigned char *jit = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (jit == MAP_FAILED) return 6;
  static const unsigned char ret42[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov eax, 42; ret */
  memcpy(jit, ret42, sizeof ret42);
  mprotect(jit, 4096, PROT_READ | PROT_EXEC);
  check += ((int (*)(void))jit)();
  munmap(jit, 4096);

  void *libm = dlopen("libm.so.6", RTLD_NOW);
  if (libm) {
    double (*cube_root)(double) = (double (*)(double))dlsym(libm, "cbrt");
    if (cube_root) check += (unsigned long)(cube_root(27.0) * 1000);
  }

  pid_t child = fork();
  if (child == 0) _exit(7);
  int status = 0;
  if (child > 0) waitpid(child, &status, 0);
  check += WEXITSTATUS(status);
  child = vfork();
  if (child == 0) _exit(8);
  if (child > 0) waitpid(child, &status, 0);
  check += WEXITSTATUS(status);

  sbrk(-(1 << 20));
  free(big);
  finish();
  printf("hot_maps: sum %lu last %lu check %lu\n", sum, last, check);
  return 0;
}
