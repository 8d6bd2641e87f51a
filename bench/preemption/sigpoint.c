/* End-to-end prototype of the chosen naming: an asynchronous signal recorded where it
 * really arrived and delivered at exactly that point again in a replay, without any
 * counter.
 *
 *   sigpoint record NAME -- CMD ARGS   runs CMD under ptrace; when the first
 *       asynchronous signal stops it, writes the point's name to NAME and delivers the
 *       signal there. The name: the event count (syscalls before the point), the
 *       registers, the values of the memory operands of the loop around pc (loopops.h),
 *       and a hash of the exact state (x87/SSE/AVX + every writable mapping). It also
 *       keeps every syscall's result, for the replay.
 *   sigpoint replay NAME -- CMD ARGS   re-runs CMD, serving the recorded syscall
 *       results and suppressing the timer syscalls, so that the signal never comes by
 *       itself. When the named event has run, it maps the in-process filter
 *       (filter.h) at the point's pc: the program runs at native speed and traps only
 *       where registers and loop values equal the recorded ones; the tracer confirms
 *       with the exact-state hash. The first arrival with the recorded state is the
 *       point (an arrival with the same state has the same future, so choosing it is
 *       no divergence); the signal is delivered there.
 * A point that is not found is reported, never replaced by another: a syscall before
 * it, the end of the program, a cycle (the state at the pc repeats without matching:
 * it can never match), or a budget of user CPU time (10x the recorded one + 1 s, only
 * for loops that neither match nor repeat).
 *
 * Re-execution stands in for rewind's replay here, so the run is made reproducible:
 * no ASLR, a fixed environment, fixed AT_RANDOM bytes, no rseq (the kernel would
 * write the CPU number into memory), rdtsc answered by the tracer. SIGPOINT_WATCH=ADDR
 * shows a variable at the point. Prints one JSON line on stderr. Not part of rewind:
 * the prototype for docs/preemption.md. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hashmap.h"

static pid_t child;
static uint64_t excluded_map;       /* the filter's own mapping: not the program's state */

static size_t readmem(uint64_t addr, void *buf, size_t len) {
  struct iovec local = { buf, len }, remote = { (void *)addr, len };
  ssize_t n = process_vm_readv(child, &local, 1, &remote, 1, 0);
  if (n < 0) n = 0;
  if ((size_t)n < len) memset((char *)buf + n, 0, len - n);
  return (size_t)n;
}

#include "loopops.h"
#include "filter.h"

#define MAX_RESULTS 4096

typedef struct {
  char magic[8];
  uint64_t events;                  /* syscalls completed before the point */
  struct user_regs_struct regs;     /* orig_rax 0, TF and RF cleared */
  uint64_t state_hash;              /* x87/SSE/AVX + writable memory */
  uint64_t utime_ticks;             /* the program's user CPU time at the point */
  int signal;
  int steered;                      /* 0: where it arrived, 1: one arrival later, 2: the caller */
  int nmem;                         /* the values of the loop's memory operands at the point */
  MemValue mem[MAX_MEMOPS];
  uint64_t nresults;
  struct { int64_t nr, ret; } results[MAX_RESULTS];
} Name;

static double now_ms(void) {
  struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void mask_regs(struct user_regs_struct *r) {
  r->orig_rax = 0;
  r->eflags &= ~0x10100ULL;
}

/* SIGPOINT_WATCH=ADDR (hex): a variable to show at the point, such as a loop's counter. */
static unsigned long long watched(void) {
  const char *w = getenv("SIGPOINT_WATCH");
  if (!w) return 0;
  errno = 0;
  long v = ptrace(PTRACE_PEEKDATA, child, (void *)strtoull(w, 0, 16), 0);
  return errno ? 0 : (unsigned long long)v;
}

/* The exact state: FP/vector registers and every writable mapping's bytes. */
static uint64_t state_hash(double *ms) {
  double t0 = now_ms();
  static uint8_t xstate[16384];
  struct iovec xv = { xstate, sizeof xstate };
  memset(xstate, 0, 1024);
  ptrace(PTRACE_GETREGSET, child, NT_X86_XSTATE, &xv);
  uint64_t h = hash64(xstate, 512, 7) ^ hash64(xstate + 576, 256, 8);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/maps", child);
  FILE *maps = fopen(path, "r");
  char line[512];
  static uint8_t buf[1 << 20];
  while (maps && fgets(line, sizeof line, maps)) {
    unsigned long lo, hi; char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[1] != 'w' || lo == excluded_map) continue;
    for (unsigned long a = lo; a < hi; a += sizeof buf) {
      size_t n = hi - a < sizeof buf ? hi - a : sizeof buf;
      struct iovec l = { buf, n }, r = { (void *)a, n };
      ssize_t got = process_vm_readv(child, &l, 1, &r, 1, 0);
      if (got < 0) got = 0;
      h = mix64(h ^ hash64(buf, got, a));
    }
  }
  if (maps) fclose(maps);
  if (ms) *ms += now_ms() - t0;
  return h;
}

static uint64_t utime_ticks(void) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", child);
  int fd = open(path, O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  unsigned long ut = 0;
  /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime */
  if (p) sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu", &ut);
  return ut;
}

/* AT_RANDOM's 16 bytes seed the stack protector and pointer guard: fixed, so that the
 * re-executed program has the recorded memory. */
static void fix_at_random(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/auxv", child);
  int fd = open(path, O_RDONLY);
  uint64_t av[2];
  while (fd >= 0 && read(fd, av, sizeof av) == sizeof av) {
    if (av[0] != AT_RANDOM) continue;
    ptrace(PTRACE_POKEDATA, child, (void *)av[1], (void *)0x5a5a5a5a5a5a5a5aULL);
    ptrace(PTRACE_POKEDATA, child, (void *)(av[1] + 8), (void *)0x5a5a5a5a5a5a5a5aULL);
  }
  if (fd >= 0) close(fd);
}

static void start(char **argv) {
  child = fork();
  if (child == 0) {
    personality(ADDR_NO_RANDOMIZE);
    /* A fixed environment: the stack (and so the state) must not depend on how the
     * tracer was started (bash's "_", the tracer's own settings). */
    clearenv();
    /* rdtsc faults (the tracer answers it): ld.so times itself with it into memory. */
    prctl(PR_SET_TSC, PR_TSC_SIGSEGV);
    setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    execvp(argv[0], argv);
    perror("exec"); _exit(127);
  }
  int status;
  waitpid(child, &status, 0);
  if (!WIFSTOPPED(status)) { fprintf(stderr, "sigpoint: %s did not start\n", argv[0]); exit(1); }
  ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
  fix_at_random();
}

static int fail(const char *why, uint64_t candidates) {
  fprintf(stderr, "sigpoint {\"found\":false,\"why\":\"%s\",\"candidates\":%lu}\n", why, (unsigned long)candidates);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  return 3;
}

/* Waits for the next stop. While a replay looks for its point, gives up when the
 * program has used more user CPU time than the budget (a loop that neither matches nor
 * repeats its state would otherwise run for ever): returns -1 then. */
static int wait_stop(int *status, uint64_t budget) {
  for (;;) {
    pid_t p = waitpid(child, status, budget ? WNOHANG : 0);
    if (p == child) return 0;
    if (p < 0) return -1;
    if (utime_ticks() > budget) return -1;
    usleep(2000);
  }
}

/* Maps the filter's page near pc by making the program run mmap at the syscall it has
 * just left (a syscall-exit stop: rip - 2 is that syscall instruction). */
static uint64_t inject_mmap(uint64_t pc) {
  struct user_regs_struct saved, r;
  ptrace(PTRACE_GETREGS, child, 0, &saved);
  r = saved;
  r.rax = r.orig_rax = SYS_mmap;
  r.rdi = ((pc + (64 << 20)) & ~0xfffffULL);
  r.rsi = FILTER_SIZE; r.rdx = 7; r.r10 = 0x22 | 0x100000 /* MAP_FIXED_NOREPLACE */; r.r8 = -1; r.r9 = 0;
  r.rip -= 2;
  ptrace(PTRACE_SETREGS, child, 0, &r);
  int status;
  for (int i = 0; i < 2; i++) {
    ptrace(PTRACE_SYSCALL, child, 0, 0);
    waitpid(child, &status, 0);
    if (!WIFSTOPPED(status)) return 0;
  }
  ptrace(PTRACE_GETREGS, child, 0, &r);
  ptrace(PTRACE_SETREGS, child, 0, &saved);
  return r.rax > -4096ULL ? 0 : r.rax;
}

static void write_code(uint64_t addr, const uint8_t *bytes, size_t len) {
  for (size_t i = 0; i < len; i += 8) {
    long word = ptrace(PTRACE_PEEKTEXT, child, (void *)(addr + i), 0);
    memcpy(&word, bytes + i, len - i < 8 ? len - i : 8);
    ptrace(PTRACE_POKETEXT, child, (void *)(addr + i), (void *)word);
  }
}

#include "steer.h"

/* rdtsc and rdtscp fault (PR_SET_TSC): the tracer answers with a clock that counts
 * the calls, the same in both runs. (rewind records the real values instead.) */
static int emulate_rdtsc(struct user_regs_struct *r) {
  static uint64_t tsc = 1000000;
  uint8_t code[3];
  readmem(r->rip, code, 3);
  int len = code[0] == 0x0f && code[1] == 0x31 ? 2 : code[0] == 0x0f && code[1] == 0x01 && code[2] == 0xf9 ? 3 : 0;
  if (!len) return 0;
  tsc += 1000;
  r->rax = tsc & 0xffffffff;
  r->rdx = tsc >> 32;
  if (len == 3) r->rcx = 0;
  r->rip += len;
  ptrace(PTRACE_SETREGS, child, 0, r);
  return 1;
}

/* The values of the memory operands of the loop around the point's pc. */
static int loop_values(const struct user_regs_struct *r, MemValue *out) {
  Block *b = block_at(r->rip);
  int n = 0;
  for (int k = 0; k < b->nops && n < MAX_MEMOPS; k++) {
    uint32_t size = b->ops[k].size;
    if (!b->ops[k].valid_here || !(size == 1 || size == 2 || size == 4 || size == 8)) continue;
    uint64_t a = op_addr(&b->ops[k], r);
    int seen = 0;
    for (int i = 0; i < n; i++) seen |= out[i].addr == a && out[i].size == size;
    if (seen) continue;
    out[n].addr = a; out[n].size = size; out[n].value = 0;
    if (readmem(a, &out[n].value, size) != size) continue;
    n++;
  }
  return n;
}

int main(int argc, char **argv) {
  if (argc < 5 || strcmp(argv[3], "--") || (strcmp(argv[1], "record") && strcmp(argv[1], "replay"))) {
    fprintf(stderr, "usage: sigpoint record|replay NAME -- CMD ARGS\n");
    return 2;
  }
  int replay = !strcmp(argv[1], "replay");
  static Name name;
  if (replay) {
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(&name, sizeof name, 1, f) != 1 || memcmp(name.magic, "SIGPNT3", 8)) {
      fprintf(stderr, "sigpoint: %s is not a recorded point\n", argv[2]);
      return 2;
    }
    fclose(f);
    if (name.events == 0) { fprintf(stderr, "sigpoint: the prototype needs a syscall before the point\n"); return 2; }
  } else {
    memcpy(name.magic, "SIGPNT3", 8);
  }
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  map_init(&block_index);
  start(argv + 4);
  uint64_t events = 0, nres = 0, candidates = 0, budget = 0;
  int in_syscall = 0, signal_to_send = 0, found = 0;
  unsigned long long record_watch = 0;
  double hash_ms = 0, t0 = now_ms();
  static Filter filter;
  uint8_t original[32];
  Map cycle; map_init(&cycle);
  int status;
  for (;;) {
    ptrace(PTRACE_SYSCALL, child, 0, signal_to_send);
    signal_to_send = 0;
    if (wait_stop(&status, budget) < 0) {
      return fail("no match within the CPU-time budget", candidates);
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      if (replay && !found) return fail("the program ended before the point", candidates);
      break;
    }
    int sig = WSTOPSIG(status);
    struct user_regs_struct r;
    ptrace(PTRACE_GETREGS, child, 0, &r);
    if (sig == (SIGTRAP | 0x80)) {
      in_syscall = !in_syscall;
      if (in_syscall) {
        /* rseq: the kernel would write the CPU number into memory; the timers: in a
         * replay the signal comes from the name, not from the kernel. */
        if (r.orig_rax == SYS_rseq || (replay && (r.orig_rax == SYS_setitimer || r.orig_rax == SYS_alarm ||
                                                  r.orig_rax == SYS_timer_settime))) {
          r.orig_rax = -1;
          ptrace(PTRACE_SETREGS, child, 0, &r);
        }
        if (budget) return fail("a syscall came before the point", candidates);
        continue;
      }
      if (replay) {
        if (nres >= name.nresults ||
            (name.results[nres].nr != (int64_t)r.orig_rax && (int64_t)r.orig_rax != -1))
          return fail("the syscalls differ from the recording", candidates);
        r.rax = name.results[nres].nr == -1 ? -ENOSYS : name.results[nres].ret;
        ptrace(PTRACE_SETREGS, child, 0, &r);
      } else if (nres < MAX_RESULTS) {
        /* A skipped syscall is recorded as nr -1 in both runs. */
        if ((int64_t)r.orig_rax == -1) r.rax = -ENOSYS, ptrace(PTRACE_SETREGS, child, 0, &r);
        name.results[nres].nr = r.orig_rax;
        name.results[nres].ret = r.rax;
      }
      nres++;
      events++;
      if (replay && !found && events == name.events) {
        /* The named interval begins: put the filter at the point's pc. */
        uint64_t base = inject_mmap(name.regs.rip);
        if (!base || base - name.regs.rip + 0x7fff0000ULL > 0xffffffffULL)
          return fail("no page for the filter near the point", candidates);
        readmem(name.regs.rip, original, sizeof original);
        if (filter_build(&filter, base, name.regs.rip, original, &name.regs, name.mem, name.nmem))
          return fail("the code at the point cannot be displaced", candidates);
        struct iovec l = { filter.image, FILTER_SIZE }, rv = { (void *)base, FILTER_SIZE };
        if (process_vm_writev(child, &l, 1, &rv, 1, 0) != FILTER_SIZE) return fail("cannot write the filter", candidates);
        write_code(name.regs.rip, filter.patch, filter.window);
        excluded_map = base;
        budget = name.utime_ticks * 10 + sysconf(_SC_CLK_TCK);
      }
      continue;
    }
    if (sig == SIGSEGV && emulate_rdtsc(&r)) continue;
    if (!replay) {
      if (sig == SIGTRAP || name.signal) { signal_to_send = sig == SIGTRAP ? 0 : sig; continue; }
      /* The first asynchronous signal: name the point it stopped at, then deliver it. */
      if (finish_rep_string(&r) < 0) { fprintf(stderr, "sigpoint: the program ended in a rep instruction\n"); return 3; }
      int steered = getenv("SIGPOINT_NO_STEER") ? 0 : steer(&r);
      if (steered < 0) { fprintf(stderr, "sigpoint: the program ended or made a syscall while steering\n"); return 3; }
      name.steered = steered;
      name.events = events;
      name.regs = r;   /* where the point is now: steering may have moved it */
      mask_regs(&name.regs);
      name.state_hash = state_hash(&hash_ms);
      name.utime_ticks = utime_ticks();
      name.nmem = loop_values(&r, name.mem);
      name.signal = sig;
      signal_to_send = sig;
      record_watch = watched();
      continue;
    }
    if (sig != SIGTRAP || !budget || r.rip != filter.trap_after) {
      if (sig == SIGTRAP) return fail("an unexpected trap", candidates);
      signal_to_send = sig;
      continue;
    }
    /* The filter found registers and loop values equal: confirm with the exact state. */
    candidates++;
    r.rip = name.regs.rip;
    struct user_regs_struct m = r;
    mask_regs(&m);
    uint64_t h = memcmp(&m, &name.regs, sizeof m) ? 0 : state_hash(&hash_ms);
    if (h && h == name.state_hash) {
      write_code(name.regs.rip, original, filter.window);
      ptrace(PTRACE_SETREGS, child, 0, &r);
      found = 1;
      budget = 0;
      signal_to_send = name.signal;
      fprintf(stderr,
              "sigpoint {\"found\":true,\"candidates\":%lu,\"rip\":\"%llx\",\"state_hash\":\"%016llx\","
              "\"regs_hash\":\"%016llx\",\"watch\":%llu,\"loop_values\":%d,\"hash_ms\":%.2f,\"replay_ms\":%.1f}\n",
              (unsigned long)candidates, (unsigned long long)r.rip, (unsigned long long)h,
              (unsigned long long)hash64(&m, sizeof m, 0), watched(), name.nmem, hash_ms, now_ms() - t0);
      continue;
    }
    /* The same registers and loop values with the same state again: the loop is
     * periodic at this pc and can never reach the named state. */
    if (h && map_get(&cycle, h)) return fail("the state at the pc cycles without matching", candidates);
    if (h) map_put(&cycle, h, candidates);
    r.rip = filter.miss;
    ptrace(PTRACE_SETREGS, child, 0, &r);
  }
  if (!replay) {
    if (!name.signal) { fprintf(stderr, "sigpoint: no asynchronous signal came\n"); return 3; }
    name.nresults = nres;
    FILE *f = fopen(argv[2], "wb");
    if (!f || fwrite(&name, sizeof name, 1, f) != 1) { perror(argv[2]); return 2; }
    fclose(f);
    fprintf(stderr, "sigpoint {\"recorded\":true,\"events\":%lu,\"rip\":\"%llx\",\"state_hash\":\"%016llx\","
            "\"regs_hash\":\"%016llx\",\"watch\":%llu,\"loop_values\":%d,\"steered\":%d,\"hash_ms\":%.2f,\"utime_ticks\":%lu}\n",
            (unsigned long)name.events, (unsigned long long)name.regs.rip, (unsigned long long)name.state_hash,
            (unsigned long long)hash64(&name.regs, sizeof name.regs, 0), record_watch, name.nmem, name.steered, hash_ms,
            (unsigned long)name.utime_ticks);
  }
  return 0;
}
