/* hello: the smallest recording. Prints a line on stdout and one on stderr,
 * then exits with status 3 so the exit status is checked end to end. */
#include <stdio.h>

int main(void) {
    printf("hello, world\n");
    fprintf(stderr, "hello on stderr\n");
    return 3;
}
