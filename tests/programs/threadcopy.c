// Four threads (main and three workers), each computing in its own loop on its own
// thread-local variables, with its own sigaltstack, blocked signals and name. Each
// stops once halfway at an int3 (not with argument "native"), with values of its
// own in xmm8 and ymm9, and checks at its end that its per-thread state is what it
// was before the stop. Main prints every thread's line after joining the workers.
// With argument "join", four workers do the computing and main only joins them
// (it waits in the kernel while they stand at their int3s); the output is the same.
// tests/integration/thread-copy.test.ts copies the process at those stops
// (addon/thread_copy.cc) and expects every copy to print what a native run prints.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_GET_TID_ADDRESS
#define PR_GET_TID_ADDRESS 40
#endif

// A `syscall` instruction the test injects its syscalls at.
__asm__(".text\n.globl rw_syscall_insn\n.type rw_syscall_insn,@function\nrw_syscall_insn:\n syscall\n int3\n");

enum { kThreads = 4, kSteps = 300000, kAltSize = 65536 };

static __thread uint64_t tls_acc;
static __thread double tls_f;
static char altstacks[kThreads][kAltSize];
static char results[kThreads][256];
static int trap;
static int have_avx;

static void compute(int i) {
  for (int k = 0; k < kSteps; k++) {
    tls_acc = tls_acc * 6364136223846793005ULL + 1442695040888963407ULL + (uint64_t)i;
    tls_f = tls_f * 1.0000001 + (double)(tls_acc & 0xff) / 256.0;
  }
}

// The stop: values of this thread in xmm8 and ymm9 across the int3, read back after.
static int vector_regs_kept(uint64_t a, uint64_t b) {
  uint64_t in[4] = {b, b + 1, b + 2, b + 3}, out[4] = {0, 0, 0, 0}, xa = 0;
  if (have_avx) {
    __asm__ volatile(
        "movq %[a], %%xmm8\n vmovdqu %[in], %%ymm9\n"
        "testl %[t], %[t]\n jz 1f\n int3\n1:\n"
        "movq %%xmm8, %[xa]\n vmovdqu %%ymm9, %[out]\n vzeroupper\n"
        : [xa] "=&r"(xa), [out] "=m"(out)
        : [a] "r"(a), [in] "m"(in), [t] "r"(trap)
        : "xmm8", "xmm9", "cc", "memory");
    return xa == a && memcmp(in, out, sizeof in) == 0;
  }
  __asm__ volatile(
      "movq %[a], %%xmm8\n testl %[t], %[t]\n jz 1f\n int3\n1:\n movq %%xmm8, %[xa]\n"
      : [xa] "=&r"(xa)
      : [a] "r"(a), [t] "r"(trap)
      : "xmm8", "cc");
  return xa == a;
}

static const char* ok(int good) { return good ? "ok" : "BAD"; }

static void* run(void* arg) {
  int i = (int)(intptr_t)arg;
  char name[16], name_now[16] = "";
  snprintf(name, sizeof name, "rw-copy-%d", i);
  pthread_setname_np(pthread_self(), name);
  stack_t ss = {.ss_sp = altstacks[i], .ss_size = kAltSize, .ss_flags = 0}, ss_now;
  sigaltstack(&ss, NULL);
  sigset_t block, mask, mask_now;
  sigemptyset(&block);
  sigaddset(&block, SIGRTMIN + i);
  if (i & 1) sigaddset(&block, SIGUSR1);
  if (i & 2) sigaddset(&block, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &block, NULL);
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  // what the kernel holds for this thread, compared again at its end
  void *head = NULL, *head_now = NULL;
  size_t len = 0, len_now = 0;
  syscall(SYS_get_robust_list, 0, &head, &len);
  int *tid_addr = NULL, *tid_addr_now = NULL;
  prctl(PR_GET_TID_ADDRESS, &tid_addr);
  uint64_t* tls_addr = &tls_acc;

  tls_acc = (uint64_t)i + 1;
  tls_f = i + 0.5;
  compute(i);
  int vectors = vector_regs_kept(tls_acc ^ 0x5555, tls_acc * 3);
  compute(i);

  pthread_getname_np(pthread_self(), name_now, sizeof name_now);
  sigaltstack(NULL, &ss_now);
  pthread_sigmask(SIG_BLOCK, NULL, &mask_now);
  syscall(SYS_get_robust_list, 0, &head_now, &len_now);
  prctl(PR_GET_TID_ADDRESS, &tid_addr_now);
  uint64_t fbits;
  memcpy(&fbits, &tls_f, sizeof fbits);
  int mask_kept = 1;
  for (int s = 1; s < 65; s++) mask_kept &= sigismember(&mask, s) == sigismember(&mask_now, s);
  snprintf(results[i], sizeof results[i],
           "t%d acc=%016llx f=%016llx vectors=%s tls=%s name=%s sigmask=%s altstack=%s robust=%s tidaddr=%s\n", i,
           (unsigned long long)tls_acc, (unsigned long long)fbits, ok(vectors), ok(tls_addr == &tls_acc),
           ok(strcmp(name, name_now) == 0), ok(mask_kept),
           ok(ss_now.ss_sp == ss.ss_sp && ss_now.ss_size == ss.ss_size && ss_now.ss_flags == 0),
           ok(head_now == head && len_now == len && head != NULL), ok(tid_addr_now == tid_addr && tid_addr != NULL));
  return NULL;
}

int main(int argc, char** argv) {
  trap = !(argc > 1 && strcmp(argv[1], "native") == 0);
  int first = argc > 1 && strcmp(argv[1], "join") == 0 ? 0 : 1;  // the first thread of its own
  have_avx = __builtin_cpu_supports("avx");
  pthread_t th[kThreads];
  for (intptr_t i = first; i < kThreads; i++) pthread_create(&th[i], NULL, run, (void*)i);
  if (first) run((void*)0);
  for (int i = first; i < kThreads; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < kThreads; i++) fputs(results[i], stdout);
  return 0;
}
