/* revextra: a small deterministic program for the reverse-execution tests in
 * gdb-reverse-more.test.ts. compute() calls f() ten times with x cycling
 * 0,1,2,3 (conditional breakpoints: x == 3 holds at i = 3 and i = 7); then
 * say() and shout() call puts, a shared-library function in the dynamic
 * build, from different callers, counting in `said` (1, 101, 102 at the three
 * calls). Exits 0. */
#include <stdio.h>

int acc = 0;
int said = 0;

int f(int x) {
    int y = x * 10 + 1;
    acc += y;
    return y;
}

void compute(void) {
    for (int i = 0; i < 10; i++) {
        f(i % 4);
    }
}

void computed(void) {
    acc = acc * 2;
}

void say(const char *msg) {
    said++;
    puts(msg);
}

void shout(const char *msg) {
    said += 100;
    puts(msg);
    fflush(stdout); /* a write between the puts calls: a search crosses events */
}

void the_end(void) {
    said = -said;
}

int main(void) {
    compute();
    computed();
    say("one");
    shout("two");
    say("three");
    the_end();
    return 0;
}
