/* How often does a fingerprint name two different moments of one interval?
 *
 * Runs a command under ptrace, lets it run free for a while (-w ms) or until a syscall
 * returns (-a nr), then single-steps it (-n steps). Before every instruction it computes three candidate names of the
 * moment and the exact state, and counts, per interval (the stretch between two
 * syscalls or signals), the arrivals whose name was already taken:
 *   F0  rewind today: the registers (orig_rax, TF, RF left out) + 64 bytes at rsp;
 *   F1  rr's tie-breakers: F0's registers + x87/SSE/AVX state + 256 bytes at rsp + the
 *       return addresses found by walking the frame-pointer chain;
 *   F2  F1 + the values of the memory operands of the code at pc (decoded with Zydis:
 *       the instructions from pc to the first unconditional branch, through the
 *       fall-through of conditional ones, whose address registers are not changed on
 *       the way).
 *   S   the exact state: registers + x87/SSE/AVX + every 64-byte line written since the
 *       interval started. Lines never written in the interval hold what they held at its
 *       start, so this is equality of registers and all of memory. A line's share of the
 *       hash is H(now) - H(at first touch), so following a line that was not really
 *       written changes nothing: the write set may be over-approximated safely.
 * A repeat of a name whose first holder had a different exact state is an *ambiguity*
 * (the name "first arrival with this fingerprint" would pick the wrong moment); a repeat
 * whose state is equal is *benign* (the same state: the same future in a replay).
 *
 * Prints one JSON line. Not part of rewind: a measurement for docs/preemption.md. */
#define _GNU_SOURCE
#include <Zydis/Zydis.h>
#include <elf.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hashmap.h"

static pid_t child;

static size_t readmem(uint64_t addr, void *buf, size_t len) {
  struct iovec local = { buf, len }, remote = { (void *)addr, len };
  ssize_t n = process_vm_readv(child, &local, 1, &remote, 1, 0);
  if (n < 0) n = 0;
  if ((size_t)n < len) memset((char *)buf + n, 0, len - n);
  return (size_t)n;
}

#include "loopops.h"

/* The exact state's memory part: lines touched in this interval. */
typedef struct { uint64_t h0, share; } LineState;
static Map line_index;              /* line address -> index into lines */
static LineState *lines;
static size_t nlines, caplines;
static uint64_t line_sum;

static uint64_t *touched;
static size_t ntouched, captouched;

static void touch_range(uint64_t addr, uint64_t len) {
  for (uint64_t l = addr & ~63ULL; l < addr + len; l += 64) {
    if (ntouched == captouched) { captouched = captouched ? captouched * 2 : 256; touched = realloc(touched, captouched * 8); }
    touched[ntouched++] = l;
    if (map_get(&line_index, l)) continue;
    if (nlines == caplines) { caplines = caplines ? caplines * 2 : 4096; lines = realloc(lines, caplines * sizeof *lines); }
    uint8_t buf[64];
    readmem(l, buf, 64);
    lines[nlines].h0 = hash64(buf, 64, l);
    lines[nlines].share = 0;
    map_put(&line_index, l, nlines++);
  }
}

static void settle_touched(void) {
  for (size_t i = 0; i < ntouched; i++) {
    uint8_t buf[64];
    readmem(touched[i], buf, 64);
    LineState *s = &lines[*map_get(&line_index, touched[i])];
    uint64_t share = hash64(buf, 64, touched[i]) - s->h0;
    line_sum += share - s->share;
    s->share = share;
  }
  ntouched = 0;
}

typedef struct { const char *name; Map first; uint64_t repeats, ambiguous; } Candidate;

static void reset_interval(Candidate *c, int nc, Map *states) {
  for (int i = 0; i < nc; i++) map_clear(&c[i].first);
  map_clear(states);
  map_clear(&line_index);
  nlines = 0; line_sum = 0;
}

static double now_s(void) {
  struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long steps = 200000, warm_ms = 0, after_nr = -1;
  FILE *out = stdout;
  int opt;
  while ((opt = getopt(argc, argv, "+n:w:o:a:")) != -1) {
    if (opt == 'n') steps = atol(optarg);
    else if (opt == 'w') warm_ms = atol(optarg);
    else if (opt == 'a') after_nr = atol(optarg);
    else if (opt == 'o') { out = fopen(optarg, "a"); if (!out) { perror(optarg); return 2; } }
    else { fprintf(stderr, "usage: fpstep [-n STEPS] [-w WARM_MS | -a SYSCALL_NR] [-o RESULTS] -- CMD ARGS\n"); return 2; }
  }
  if (optind >= argc) { fprintf(stderr, "usage: fpstep [-n STEPS] [-w WARM_MS | -a SYSCALL_NR] [-o RESULTS] -- CMD ARGS\n"); return 2; }
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  /* Tracer and tracee on one CPU: a ptrace stop then costs no cross-CPU wake-up. */
  cpu_set_t one; CPU_ZERO(&one); CPU_SET(sched_getcpu(), &one);
  sched_setaffinity(0, sizeof one, &one);
  child = fork();
  if (child == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    execvp(argv[optind], argv + optind);
    perror("exec"); _exit(127);
  }
  int status;
  waitpid(child, &status, 0);
  if (!WIFSTOPPED(status)) { fprintf(stderr, "fpstep: %s did not start\n", argv[optind]); return 1; }
  ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC);
  if (warm_ms > 0) {
    ptrace(PTRACE_CONT, child, 0, 0);
    usleep(warm_ms * 1000);
    kill(child, SIGSTOP);
    for (;;) {
      waitpid(child, &status, 0);
      if (!WIFSTOPPED(status)) { fprintf(stderr, "fpstep: the program ended while warming up\n"); return 1; }
      if (WSTOPSIG(status) == SIGSTOP) break;
      /* An exec (a shim script execs the real program) stops with SIGTRAP: not a signal. */
      ptrace(PTRACE_CONT, child, 0, WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status));
    }
  }
  if (after_nr >= 0) {
    /* Start at a point that does not depend on time: when syscall after_nr returns. */
    ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD);
    for (int entering = 1;; entering = !entering) {
      ptrace(PTRACE_SYSCALL, child, 0, 0);
      waitpid(child, &status, 0);
      if (!WIFSTOPPED(status)) { fprintf(stderr, "fpstep: the program ended before syscall %ld\n", after_nr); return 1; }
      if (WSTOPSIG(status) != (SIGTRAP | 0x80)) { entering = !entering; continue; }
      struct user_regs_struct r;
      ptrace(PTRACE_GETREGS, child, 0, &r);
      if (!entering && (long)r.orig_rax == after_nr) break;
    }
  }
  Candidate cand[3] = { { "F0" }, { "F1" }, { "F2" } };
  for (int i = 0; i < 3; i++) map_init(&cand[i].first);
  Map states; map_init(&states);
  map_init(&block_index); map_init(&line_index);
  uint64_t state_repeats = 0, intervals = 1, done = 0;
  int pending_sig = 0;
  double t0 = now_s();
  static uint8_t xstate[16384];
  for (; done < (uint64_t)steps; done++) {
    struct user_regs_struct r;
    ptrace(PTRACE_GETREGS, child, 0, &r);
    struct iovec xv = { xstate, sizeof xstate };
    memset(xstate, 0, 1024);
    ptrace(PTRACE_GETREGSET, child, NT_X86_XSTATE, &xv);
    struct user_regs_struct masked = r;
    masked.orig_rax = 0;
    masked.eflags &= ~0x10100ULL;
    uint8_t stack[256];
    readmem(r.rsp, stack, sizeof stack);
    uint64_t regs_h = hash64(&masked, sizeof masked, 1);
    /* x87/SSE legacy area and the AVX upper halves; the XSAVE header is left out. */
    uint64_t fp_h = hash64(xstate, 512, 2) ^ hash64(xstate + 576, 256, 3);
    uint64_t f0 = hash64(stack, 64, regs_h);
    uint64_t f1 = hash64(stack, 256, regs_h ^ fp_h);
    uint64_t fp = r.rbp;
    for (int k = 0; k < 16 && fp >= r.rsp && fp - r.rsp < (1 << 24) && !(fp & 7); k++) {
      uint64_t frame[2];
      if (readmem(fp, frame, 16) < 16) break;
      f1 = mix64(f1 ^ frame[1]);
      if (frame[0] <= fp) break;
      fp = frame[0];
    }
    Block *b = block_at(r.rip);
    uint64_t f2 = f1;
    for (int k = 0; k < b->nops; k++) {
      if (!b->ops[k].valid_here) continue;
      uint64_t a = op_addr(&b->ops[k], &r);
      uint8_t v[64];
      uint32_t n = b->ops[k].size && b->ops[k].size < 64 ? b->ops[k].size : 64;
      readmem(a, v, n);
      f2 = hash64(v, n, f2 ^ a);
    }
    uint64_t s = mix64(regs_h ^ fp_h) + line_sum;
    uint64_t fps[3] = { f0, f1, f2 };
    if (map_get(&states, s)) state_repeats++; else map_put(&states, s, done);
    for (int i = 0; i < 3; i++) {
      uint64_t *first = map_get(&cand[i].first, fps[i]);
      if (!first) { map_put(&cand[i].first, fps[i], s); continue; }
      cand[i].repeats++;
      if (*first != s) cand[i].ambiguous++;
    }
    /* What this instruction may write: its memory operands, the stack around rsp
     * (push, call, the red zone), 8 KiB for operands of unknown size (xsave). */
    touch_range(r.rsp - 256, 320);
    for (int k = 0; k < b->nops; k++)
      if (b->ops[k].first) touch_range(op_addr(&b->ops[k], &r), b->ops[k].size ? b->ops[k].size : 8192);
    ptrace(PTRACE_SINGLESTEP, child, 0, pending_sig);
    pending_sig = 0;
    waitpid(child, &status, 0);
    if (!WIFSTOPPED(status)) break;
    settle_touched();
    int sig = WSTOPSIG(status);
    if (b->is_syscall || sig != SIGTRAP) {
      if (sig != SIGTRAP) pending_sig = sig;   /* a signal delivery ends the interval */
      reset_interval(cand, 3, &states);
      intervals++;
    }
  }
  double t = now_s() - t0;
  if (WIFSTOPPED(status)) { kill(child, SIGKILL); waitpid(child, &status, 0); }
  fprintf(out, "{\"cmd\":\"%s%s%s\",\"steps\":%lu,\"intervals\":%lu,\"pcs\":%zu,\"state_repeats\":%lu",
         argv[optind], optind + 1 < argc ? " " : "", optind + 1 < argc ? argv[optind + 1] : "",
         (unsigned long)done, (unsigned long)intervals, nblocks, (unsigned long)state_repeats);
  for (int i = 0; i < 3; i++)
    fprintf(out, ",\"%s\":{\"repeats\":%lu,\"ambiguous\":%lu}", cand[i].name,
           (unsigned long)cand[i].repeats, (unsigned long)cand[i].ambiguous);
  fprintf(out, ",\"us_per_step\":%.1f}\n", t * 1e6 / (done ? done : 1));
  return 0;
}
