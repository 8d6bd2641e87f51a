/* rdtsc: reads the time-stamp counter with __rdtsc() and __rdtscp() several
 * times; prints the values, rdtscp's TSC_AUX, and whether they increase.
 * These are instructions, not syscalls: the recorder has to trap them. */
#include <stdint.h>
#include <stdio.h>
#include <x86intrin.h>

#define N 6

int main(void) {
    uint64_t a[N], b[N];
    unsigned aux[N];
    for (int i = 0; i < N; i++) {
        a[i] = __rdtsc();
        b[i] = __rdtscp(&aux[i]);
    }
    int increasing = 1;
    uint64_t prev = 0;
    for (int i = 0; i < N; i++) {
        printf("rdtsc %llu rdtscp %llu aux %u\n", (unsigned long long)a[i],
               (unsigned long long)b[i], aux[i]);
        if (a[i] <= prev || b[i] <= a[i]) increasing = 0;
        prev = b[i];
    }
    printf("increasing: %s\n", increasing ? "yes" : "no");
    return 0;
}
