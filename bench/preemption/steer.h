/* Record-time steering for sigpoint.c: where the recorder may move a point before it
 * names it, so that the replay finds it quickly. Correctness never depends on it: a
 * point named where it arrived is exact too, only slower to find. The includer
 * defines child, readmem, mask_regs, state_hash and loop_values. */
#ifndef PREEMPTION_STEER_H
#define PREEMPTION_STEER_H

/* A signal can stop a rep-string instruction between two iterations, where no arrival
 * at its pc names the point. The recorder may deliver later (the kernel would deliver
 * at any later instruction boundary), so it lets the instruction finish first: a
 * breakpoint after it. Returns 1 when it moved the point, 0 when there was no need,
 * -1 when the program ended. */
static int finish_rep_string(struct user_regs_struct *r) {
  uint8_t code[16];
  readmem(r->rip, code, sizeof code);
  ZydisDecodedInstruction ins;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code, sizeof code, &ins, ops))) return 0;
  if (!(ins.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE))) return 0;
  uint64_t after = r->rip + ins.length;
  long word = ptrace(PTRACE_PEEKTEXT, child, (void *)after, 0);
  ptrace(PTRACE_POKETEXT, child, (void *)after, (void *)((word & ~0xffL) | 0xcc));
  int status;
  for (;;) {
    ptrace(PTRACE_CONT, child, 0, 0);
    waitpid(child, &status, 0);
    if (!WIFSTOPPED(status)) return -1;
    if (WSTOPSIG(status) == SIGTRAP) break;
  }
  ptrace(PTRACE_POKETEXT, child, (void *)after, (void *)word);
  ptrace(PTRACE_GETREGS, child, 0, r);
  r->rip = after;
  ptrace(PTRACE_SETREGS, child, 0, r);
  return 1;
}

static int loop_values(const struct user_regs_struct *r, MemValue *out);

/* Runs the stopped program to the next arrival at addr (a breakpoint), with rsp equal
 * to want_rsp when that is not 0. Returns 0 there, -1 when the program ended or made a
 * syscall first (the prototype does not record events while it steers). */
static int run_to(uint64_t addr, uint64_t want_rsp, struct user_regs_struct *r) {
  long word = ptrace(PTRACE_PEEKTEXT, child, (void *)addr, 0);
  int status;
  if (r->rip == addr) {   /* standing there: the next arrival is after this one */
    ptrace(PTRACE_SINGLESTEP, child, 0, 0);
    waitpid(child, &status, 0);
    if (!WIFSTOPPED(status)) return -1;
  }
  for (;;) {
    ptrace(PTRACE_POKETEXT, child, (void *)addr, (void *)((word & ~0xffL) | 0xcc));
    ptrace(PTRACE_SYSCALL, child, 0, 0);
    waitpid(child, &status, 0);
    if (!WIFSTOPPED(status) || WSTOPSIG(status) == (SIGTRAP | 0x80)) return -1;
    ptrace(PTRACE_POKETEXT, child, (void *)addr, (void *)word);
    ptrace(PTRACE_GETREGS, child, 0, r);
    if (WSTOPSIG(status) != SIGTRAP || r->rip != addr + 1) return -1;
    r->rip = addr;
    ptrace(PTRACE_SETREGS, child, 0, r);
    if (!want_rsp || r->rsp == want_rsp) return 0;
    ptrace(PTRACE_SINGLESTEP, child, 0, 0);   /* past the original instruction */
    waitpid(child, &status, 0);
    if (!WIFSTOPPED(status)) return -1;
  }
}

/* Record-time steering: a point whose registers and loop values come back unchanged
 * while the state changed (memcpy called from a counting loop: the count is out of
 * sight of the code at pc) would make the replay confirm one candidate per arrival.
 * The recorder may deliver later, so it probes one more arrival at pc and, when the
 * name was weak there, moves the point out to the caller: the return address at rsp
 * (the prototype handles a leaf function; rewind would unwind with the CFI). Never a
 * question of correctness, only of the replay's speed. Returns how far it moved
 * (0: stayed, 1: next arrival, 2: the caller), -1 when the program ended or made a
 * syscall while it steered. */
static int steer(struct user_regs_struct *r) {
  struct user_regs_struct r1 = *r, m1, m2;
  MemValue v1[MAX_MEMOPS], v2[MAX_MEMOPS];
  memset(v1, 0, sizeof v1);   /* compared whole, padding included */
  memset(v2, 0, sizeof v2);
  int n1 = loop_values(&r1, v1);
  uint64_t h1 = state_hash(NULL);
  if (run_to(r1.rip, 0, r) < 0) return -1;
  int n2 = loop_values(r, v2);
  uint64_t h2 = state_hash(NULL);
  m1 = r1; mask_regs(&m1);
  m2 = *r; mask_regs(&m2);
  if (memcmp(&m1, &m2, sizeof m1) || n1 != n2 || memcmp(v1, v2, n1 * sizeof *v1) || h1 == h2) return 1;
  uint64_t ret = 0;
  readmem(r->rsp, &ret, 8);
  uint8_t code[8];
  readmem(ret - 8, code, 8);
  /* A call ends just before the return address: e8 rel32, or ff /2 of 2, 3 or 6 bytes. */
  int after_call = code[3] == 0xe8 || (code[6] == 0xff && (code[7] & 0x38) == 0x10) ||
                   (code[5] == 0xff && (code[6] & 0x38) == 0x10) || (code[2] == 0xff && (code[3] & 0x38) == 0x10);
  if (!after_call) return 1;
  if (run_to(ret, r->rsp + 8, r) < 0) return -1;
  return 2;
}

#endif
