// Four threads (main and three workers), each computing in its own loop on its own
// thread-local variables, with its own sigaltstack, blocked signals and name. Each
// stops once halfway at an int3 (not with argument "native"), with values of its
// own in xmm8 and ymm9, and checks at its end that its per-thread state is what it
// was before the stop. Main prints every thread's line after joining the workers.
// With argument "join", four workers do the computing and main only joins them
// (it waits in the kernel while they stand at their int3s); the output is the same.
// Signals: before its stop each thread queues two values of a realtime signal it
// blocks to itself, and main one to the process that every thread blocks; each
// takes its own back at its end, main the process's. Thread 3 sends SIGUSR2 (not
// blocked, handled on the sigaltstack) to thread 1, which waits until it is sent:
// under the test, thread 1 stands at its stop by then, and the signal waits there.
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
static __thread int tls_index;
static __thread volatile int usr2_count, usr2_onstack;
static pthread_t th[kThreads];
static int usr2_sent, usr2_ready;
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

static void on_usr2(int sig, siginfo_t* si, void* uc) {
  char here;
  usr2_count++;
  usr2_onstack = &here >= altstacks[tls_index] && &here < altstacks[tls_index] + kAltSize;
}

// Takes the queued values of sig (blocked) back: `values` in order, then none.
static int took_queued(int sig, const int* values, int n) {
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  struct timespec now = {0, 0};
  siginfo_t si;
  for (int k = 0; k < n; k++)
    if (sigtimedwait(&one, &si, &now) != sig || si.si_code != SI_QUEUE || si.si_value.sival_int != values[k]) return 0;
  return sigtimedwait(&one, &si, &now) == -1;
}

static void* run(void* arg) {
  int i = (int)(intptr_t)arg;
  tls_index = i;
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
  // thread 3 sends thread 1 its SIGUSR2 once thread 1 has its alternate stack: sent
  // before, on a loaded machine, the handler ran on the thread's own stack (onstack=0)
  if (i == 1) __atomic_store_n(&usr2_ready, 1, __ATOMIC_RELEASE);
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
  int queued[2] = {100 * i + 1, 100 * i + 2};
  for (int k = 0; k < 2; k++) pthread_sigqueue(pthread_self(), SIGRTMIN + i, (union sigval){.sival_int = queued[k]});
  if (i == 3) {
    while (!__atomic_load_n(&usr2_ready, __ATOMIC_ACQUIRE)) sched_yield();
    pthread_kill(th[1], SIGUSR2);
    __atomic_store_n(&usr2_sent, 1, __ATOMIC_RELEASE);
  }
  int vectors = vector_regs_kept(tls_acc ^ 0x5555, tls_acc * 3);
  compute(i);
  if (i == 1) {
    // once it is sent it is pending here, and taken at the latest as the next
    // syscall returns (a copy that lost it prints 0, rather than wait for ever)
    while (!__atomic_load_n(&usr2_sent, __ATOMIC_ACQUIRE)) sched_yield();
    sched_yield();
  }
  int took = took_queued(SIGRTMIN + i, queued, 2);

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
           "t%d acc=%016llx f=%016llx vectors=%s tls=%s name=%s sigmask=%s altstack=%s robust=%s tidaddr=%s "
           "queued=%s usr2=%d onstack=%d\n",
           i,
           (unsigned long long)tls_acc, (unsigned long long)fbits, ok(vectors), ok(tls_addr == &tls_acc),
           ok(strcmp(name, name_now) == 0), ok(mask_kept),
           ok(ss_now.ss_sp == ss.ss_sp && ss_now.ss_size == ss.ss_size && ss_now.ss_flags == 0),
           ok(head_now == head && len_now == len && head != NULL), ok(tid_addr_now == tid_addr && tid_addr != NULL), ok(took), usr2_count, usr2_onstack);
  return NULL;
}

int main(int argc, char** argv) {
  trap = !(argc > 1 && strcmp(argv[1], "native") == 0);
  int first = argc > 1 && strcmp(argv[1], "join") == 0 ? 0 : 1;  // the first thread of its own
  have_avx = __builtin_cpu_supports("avx");
  struct sigaction sa = {.sa_sigaction = on_usr2, .sa_flags = SA_SIGINFO | SA_ONSTACK};
  sigaction(SIGUSR2, &sa, NULL);
  // a signal for the process that every thread blocks (they inherit main's mask)
  sigset_t shared;
  sigemptyset(&shared);
  sigaddset(&shared, SIGRTMIN + 5);
  pthread_sigmask(SIG_BLOCK, &shared, NULL);
  sigqueue(getpid(), SIGRTMIN + 5, (union sigval){.sival_int = 4242});
  for (intptr_t i = first; i < kThreads; i++) pthread_create(&th[i], NULL, run, (void*)i);
  if (first) run((void*)0);
  for (int i = first; i < kThreads; i++) pthread_join(th[i], NULL);
  int value = 4242;
  for (int i = 0; i < kThreads; i++) fputs(results[i], stdout);
  printf("process queued=%s\n", ok(took_queued(SIGRTMIN + 5, &value, 1)));
  return 0;
}
