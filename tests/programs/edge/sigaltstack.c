/* A SIGSEGV handler on an alternate signal stack after a stack overflow-like fault. */
#include "edge.h"
#include <setjmp.h>

static char *alt;
static sigjmp_buf env;
static void on_segv(int sig) {
  char here;
  int on_alt = &here >= alt && &here < alt + SIGSTKSZ * 4;
  stack_t cur;
  sigaltstack(NULL, &cur);
  printf("signal %d handled on the alternate stack: %d, SS_ONSTACK: %d\n", sig, on_alt, (cur.ss_flags & SS_ONSTACK) != 0);
  siglongjmp(env, on_alt ? 1 : 2);
}

int main(void) {
  alt = malloc(SIGSTKSZ * 4);
  stack_t ss = {.ss_sp = alt, .ss_size = SIGSTKSZ * 4};
  CHECK(sigaltstack(&ss, NULL));
  struct sigaction sa = {.sa_handler = on_segv, .sa_flags = SA_ONSTACK};
  sigaction(SIGSEGV, &sa, NULL);
  int r = sigsetjmp(env, 1);
  if (r == 0) *(volatile int *)16 = 1;
  NEED(r == 1, "a handler on the alternate stack");
  PASS();
  return 0;
}
