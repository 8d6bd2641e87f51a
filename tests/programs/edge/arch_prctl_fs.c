/* arch_prctl: ARCH_GET_FS is the thread pointer (%fs:0 points to itself); GS set and
 * read back; ARCH_GET_CPUID. */
#include "edge.h"
#include <asm/prctl.h>

int main(void) {
  unsigned long fs = 0, self = 0, gs = 0;
  CHECK(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs));
  __asm__ volatile("mov %%fs:0, %0" : "=r"(self));
  printf("ARCH_GET_FS is the thread pointer: %d\n", fs == self);
  static unsigned long block[4] = {11, 22, 33, 44};
  CHECK(syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)block));
  CHECK(syscall(SYS_arch_prctl, ARCH_GET_GS, &gs));
  unsigned long third = 0;
  __asm__ volatile("mov %%gs:16, %0" : "=r"(third));
  printf("GS round trip: %d, %%gs:16 = %lu\n", gs == (unsigned long)block, third);
  long cpuid = syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0);
  printf("ARCH_GET_CPUID: %ld\n", cpuid);
  NEED(fs == self && third == 33, "arch_prctl FS/GS");
  PASS();
  return 0;
}
