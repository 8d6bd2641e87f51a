/* prctl queries a program makes about itself: each must answer as it does natively
 * (issue 14: a query that works natively failed with EINVAL while recording). */
#include "edge.h"
#include <linux/prctl.h>
#include <sys/prctl.h>
#ifndef PR_GET_AUXV
#define PR_GET_AUXV 0x41555856
#endif

static void show(const char *name, long r) {
  if (r < 0) printf("%s: error %s\n", name, errname(errno));
  else printf("%s: %ld\n", name, r);
}

int main(void) {
  char name[17] = {0};
  CHECK(prctl(PR_SET_NAME, "edge-prctl"));
  CHECK(prctl(PR_GET_NAME, name));
  printf("PR_GET_NAME: %s\n", name);
  int v = -1;
  show("PR_GET_PDEATHSIG", prctl(PR_GET_PDEATHSIG, &v));
  printf("  pdeathsig %d\n", v);
  show("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE));
  show("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS));
  show("PR_GET_TIMERSLACK", prctl(PR_GET_TIMERSLACK));
  v = -1;
  show("PR_GET_CHILD_SUBREAPER", prctl(PR_GET_CHILD_SUBREAPER, &v));
  printf("  subreaper %d\n", v);
  show("PR_GET_THP_DISABLE", prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
  show("PR_GET_IO_FLUSHER", prctl(PR_GET_IO_FLUSHER, 0, 0, 0, 0));
  show("PR_CAPBSET_READ(CAP_SYS_ADMIN)", prctl(PR_CAPBSET_READ, 21));
  show("PR_MCE_KILL_GET", prctl(PR_MCE_KILL_GET, 0, 0, 0, 0));
  v = -1;
  show("PR_GET_TSC", prctl(PR_GET_TSC, &v));
  printf("  tsc mode %d\n", v);
  show("PR_GET_SECUREBITS", prctl(PR_GET_SECUREBITS));
  show("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  show("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP));
  show("PR_GET_SPECULATION_CTRL", prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, 0, 0, 0));
  show("PR_GET_TAGGED_ADDR_CTRL", prctl(PR_GET_TAGGED_ADDR_CTRL, 0, 0, 0, 0));
  show("PR_GET_FP_MODE", prctl(PR_GET_FP_MODE));
  unsigned long auxv[64] = {0};
  long n = prctl(PR_GET_AUXV, auxv, sizeof auxv, 0, 0);
  show("PR_GET_AUXV returns a size", n > 0 ? 1 : n);
  NEED(strcmp(name, "edge-prctl") == 0, "PR_SET_NAME/PR_GET_NAME");
  PASS();
  return 0;
}
