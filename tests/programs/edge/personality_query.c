/* personality(0xffffffff) queries the execution domain and flags: natively 0 (PER_LINUX,
 * address-space randomisation on); setting READ_IMPLIES_EXEC shows in the next query. */
#include "edge.h"
#include <sys/personality.h>

int main(void) {
  int p = personality(0xffffffff);
  printf("persona 0x%x\n", p);
  int old = personality(p | READ_IMPLIES_EXEC);
  int now = personality(0xffffffff);
  printf("old 0x%x, now 0x%x\n", old, now);
  NEED(p == 0 && now == READ_IMPLIES_EXEC, "personality query");
  PASS();
  return 0;
}
