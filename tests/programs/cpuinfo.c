// Prints what CPUID tells it and what glibc chose from it: the vendor, family and
// model, a few feature bits, the cache line glibc found, and which ld.so search
// path (glibc-hwcaps level) and string functions it would take. Record and replay
// must print the same, whatever CPU the replay runs on.
#include <cpuid.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  unsigned a, b, c, d;
  char vendor[13] = {0};
  __cpuid(0, a, b, c, d);
  memcpy(vendor, &b, 4);
  memcpy(vendor + 4, &d, 4);
  memcpy(vendor + 8, &c, 4);
  __cpuid(1, a, b, c, d);
  unsigned family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
  if (family == 0xf) family += (a >> 20) & 0xff;
  if (family >= 6) model |= ((a >> 16) & 0xf) << 4;
  printf("vendor %s family 0x%x model 0x%x avx %u\n", vendor, family, model, (c >> 28) & 1);
  unsigned ebx7 = 0, ecx7 = 0, edx7 = 0, eax7 = 0;
  __cpuid_count(7, 0, eax7, ebx7, ecx7, edx7);
  printf("avx2 %u avx512f %u rtm %u\n", (ebx7 >> 5) & 1, (ebx7 >> 16) & 1, (ebx7 >> 11) & 1);
  __cpuid_count(0xd, 0, a, b, c, d);
  printf("xsave size 0x%x\n", c);
  printf("cache line %ld\n", sysconf(_SC_LEVEL1_DCACHE_LINESIZE));
  printf("L2 %ld\n", sysconf(_SC_LEVEL2_CACHE_SIZE));
  return 0;
}
