/* Syscall user dispatch: with the selector set to block, a syscall made outside the
 * allowed range raises SIGSYS (SYS_USER_DISPATCH) and the handler emulates it
 * (issue 14: the recorder hung). */
#include "edge.h"
#include <sys/prctl.h>
#include <ucontext.h>
#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif

static volatile char selector = SYSCALL_DISPATCH_FILTER_ALLOW;
static int trapped_nr = -1;

static void on_sys(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  selector = SYSCALL_DISPATCH_FILTER_ALLOW;
  trapped_nr = si->si_syscall;
  (void)sig;
  uc->uc_mcontext.gregs[REG_RAX] = 4242;  /* the emulated result */
}

int main(void) {
  struct sigaction sa = {.sa_sigaction = on_sys, .sa_flags = SA_SIGINFO};
  sigaction(SIGSYS, &sa, NULL);
  long r = prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, 0, 0, &selector);
  NEED(r == 0, "PR_SET_SYSCALL_USER_DISPATCH");
  selector = SYSCALL_DISPATCH_FILTER_BLOCK;
  long got;
  __asm__ volatile("syscall" : "=a"(got) : "a"(SYS_getppid) : "rcx", "r11", "memory");
  printf("dispatched syscall %d, emulated result %ld\n", trapped_nr, got);
  NEED(trapped_nr == SYS_getppid && got == 4242, "SIGSYS from syscall user dispatch");
  PASS();
  return 0;
}
