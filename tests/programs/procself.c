/* procself: reads /proc/self/status and /proc/self/maps (files whose contents
 * depend on the process, not on the disk) and prints their line counts and
 * the Pid: line, plus getpid(). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int count_lines(const char *path, const char *want, char *found, size_t found_len) {
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("cannot open %s\n", path);
        return -1;
    }
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        n++;
        if (want && strncmp(line, want, strlen(want)) == 0) {
            line[strcspn(line, "\n")] = 0;
            snprintf(found, found_len, "%s", line);
        }
    }
    fclose(f);
    return n;
}

int main(void) {
    char pid_line[256] = "(none)";
    int status_lines = count_lines("/proc/self/status", "Pid:", pid_line, sizeof pid_line);
    int maps_lines = count_lines("/proc/self/maps", NULL, NULL, 0);
    int pid = (int)getpid();
    int status_pid = -1;
    sscanf(pid_line, "Pid: %d", &status_pid);
    printf("/proc/self/status: %d lines\n", status_lines);
    printf("%s\n", pid_line);
    printf("/proc/self/maps: %d lines\n", maps_lines);
    printf("getpid: %d\n", pid);
    printf("pid matches: %s\n", status_pid == pid ? "yes" : "no");
    return 0;
}
