/* Syscall numbers that do not exist: -1, 1000 and 0x40000000|1 (an x32 number) fail
 * with ENOSYS (issue 14: syscall(-1) stopped the recording). */
#include "edge.h"

int main(void) {
  long nums[] = {-1, 1000, 0x40000001L, 511};
  for (int i = 0; i < 4; i++) {
    errno = 0;
    long r = syscall(nums[i]);
    printf("syscall(%ld) = %ld %s\n", nums[i], r, errname(errno));
    if (nums[i] != 0x40000001L) NEED(r == -1 && errno == ENOSYS, "ENOSYS for an invalid number");
  }
  PASS();
  return 0;
}
