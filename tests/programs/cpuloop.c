/* cpuloop: CPU-bound loop with no syscalls, argv[1] iterations (default
 * 300000000). Used by the benchmarks to measure recording overhead on pure
 * computation; the result is deterministic. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    unsigned long long iters = argc > 1 ? strtoull(argv[1], NULL, 10) : 300000000ull;
    uint64_t x = 88172645463325252ull, acc = 0;
    for (unsigned long long i = 0; i < iters; i++) {
        x ^= x << 13; /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        acc += x >> 32;
    }
    printf("cpuloop: %llu iterations, result %016llx\n", iters, (unsigned long long)acc);
    return 0;
}
