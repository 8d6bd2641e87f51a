/* The harness of the software-counter prototype (softcount-plan.mjs makes the plan):
 * applies a patch plan to its own code, then runs one workload and prints how long it
 * took and how many conditional branches the stubs counted. Built non-PIE so that the
 * plan's addresses are the run's. With SOFTCOUNT_TARGET=k the counter traps at the
 * k-th counted branch: the SIGTRAP handler reports where (and the loop's own counter
 * there) and lets the program go on.
 *
 * usage: softcount_target MODE N   (MODE: cpuloop | bytecopy | isort)
 * env:   SOFTCOUNT_PLAN=FILE, SOFTCOUNT_TARGET=k */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static volatile uint64_t *counter;
static const uint64_t start_count = 1ULL << 62;
static volatile unsigned long progress;   /* the workloads' own iteration counter */

__attribute__((noinline)) unsigned long cpuloop(unsigned long n) {
  unsigned long x = 27, sum = 0;
  for (unsigned long i = 0; i < n; i++) {
    x = (x & 1) ? 3 * x + 1 : x / 2;
    if (x == 1) x = 27 + i;
    sum += x;
    progress = i;
  }
  return sum;
}

static unsigned char src[1 << 16], dst[1 << 16];
__attribute__((noinline, optimize("no-tree-loop-distribute-patterns")))
unsigned long bytecopy(unsigned long n) {
  for (unsigned long r = 0; r < n; r++) {
    for (size_t i = 0; i < sizeof src; i++) dst[i] = src[i] + (unsigned char)r;
    progress = r;
  }
  return dst[12345];
}

static int arr[2000];
__attribute__((noinline)) unsigned long isort(unsigned long n) {
  unsigned long sum = 0;
  for (unsigned long r = 0; r < n; r++) {
    for (int i = 0; i < 2000; i++) arr[i] = (int)((i * 2654435761u + r) % 10007);
    for (int i = 1; i < 2000; i++) {
      int v = arr[i], j = i - 1;
      while (j >= 0 && arr[j] > v) { arr[j + 1] = arr[j]; j--; }
      arr[j + 1] = v;
    }
    sum += arr[1000];
    progress = r;
  }
  return sum;
}

static void on_trap(int sig, siginfo_t *si, void *uc_) {
  (void)sig; (void)si;
  ucontext_t *uc = uc_;
  printf("{\"trap\":true,\"rip\":\"%llx\",\"progress\":%lu}\n",
         (unsigned long long)uc->uc_mcontext.gregs[REG_RIP], progress);
  *counter = start_count;   /* no second trap */
}

static double apply_plan(const char *path) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  char magic[4]; uint64_t base, caddr; uint32_t len, n;
  if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "SCP1", 4) || fread(&base, 8, 1, f) != 1 ||
      fread(&caddr, 8, 1, f) != 1 || fread(&len, 4, 1, f) != 1) { fprintf(stderr, "bad plan\n"); exit(2); }
  void *stub = mmap((void *)base, len, PROT_READ | PROT_WRITE | PROT_EXEC,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (stub != (void *)base) { perror("mmap stub"); exit(2); }
  if (fread(stub, 1, len, f) != len || fread(&n, 4, 1, f) != 1) { fprintf(stderr, "bad plan\n"); exit(2); }
  counter = (volatile uint64_t *)caddr;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t addr; uint32_t plen; unsigned char bytes[64];
    if (fread(&addr, 8, 1, f) != 1 || fread(&plen, 4, 1, f) != 1 || plen > 64 || fread(bytes, 1, plen, f) != plen) {
      fprintf(stderr, "bad plan\n"); exit(2);
    }
    uintptr_t page = addr & ~4095UL;
    mprotect((void *)page, 8192, PROT_READ | PROT_WRITE | PROT_EXEC);
    memcpy((void *)addr, bytes, plen);
    mprotect((void *)page, 8192, PROT_READ | PROT_EXEC);
  }
  fclose(f);
  clock_gettime(CLOCK_MONOTONIC, &b);
  return (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: softcount_target cpuloop|bytecopy|isort N\n"); return 2; }
  unsigned long n = strtoul(argv[2], 0, 10);
  const char *plan = getenv("SOFTCOUNT_PLAN");
  if (plan && !*plan) plan = NULL;
  double apply_ms = plan ? apply_plan(plan) : 0;
  static uint64_t unused_counter;
  if (!counter) counter = &unused_counter;
  *counter = start_count;
  const char *target = getenv("SOFTCOUNT_TARGET");
  if (target) {
    struct sigaction sa = { .sa_sigaction = on_trap, .sa_flags = SA_SIGINFO };
    sigaction(SIGTRAP, &sa, NULL);
    *counter = strtoull(target, 0, 10);
  }
  unsigned long (*work)(unsigned long) =
      !strcmp(argv[1], "cpuloop") ? cpuloop : !strcmp(argv[1], "bytecopy") ? bytecopy : !strcmp(argv[1], "isort") ? isort : 0;
  if (!work) { fprintf(stderr, "softcount_target: unknown mode %s\n", argv[1]); return 2; }
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  unsigned long result = work(n);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
  printf("{\"mode\":\"%s\",\"n\":%lu,\"result\":%lu,\"ms\":%.2f,\"apply_ms\":%.3f,\"counted\":%llu}\n", argv[1], n, result,
         ms, apply_ms, target ? 0ULL : (unsigned long long)(start_count - *counter));
  return 0;
}
