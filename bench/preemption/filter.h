/* The in-process filter of a replay: the code at a named point's pc jumps to a stub
 * that compares, at native speed, the registers and the values of the memory operands
 * of the loop around pc with the recorded ones, and traps (int3) only when all are
 * equal. The tracer then confirms the candidate with the exact-state hash; a miss runs
 * the displaced instructions (relocated) and jumps back. So finding the point costs a
 * few instructions per arrival instead of a ptrace stop per arrival.
 *
 * The stub touches no stack (no red zone to respect, no stack word changed: the
 * state hash sees memory exactly as the program left it): it saves rax and the
 * arithmetic flags in its own data (lahf + seto, restored by add al,0x7f + sahf).
 * Zydis encodes every instruction (EncodeInstructionAbsolute resolves rip-relative
 * operands and branches) and relocates the displaced ones. */
#ifndef PREEMPTION_FILTER_H
#define PREEMPTION_FILTER_H
#include <Zydis/Zydis.h>
#include <stdint.h>
#include <string.h>
#include <sys/user.h>

#define FILTER_SIZE 8192
#define FILTER_DATA 4096            /* the data half: saved rax, flags, recorded values */
#define MAX_MEMOPS 16

typedef struct { uint64_t addr; uint32_t size; uint64_t value; } MemValue;

typedef struct {
  uint64_t base;                    /* where the stub is mapped in the tracee */
  uint64_t trap_after;              /* rip after the all-equal int3 */
  uint64_t miss;                    /* where a rejected candidate resumes */
  uint8_t image[FILTER_SIZE];
  uint8_t patch[16];                /* the jump written over the window at pc */
  size_t window;
} Filter;

static ZydisEncoderRequest req_new(ZydisMnemonic m) {
  ZydisEncoderRequest r;
  memset(&r, 0, sizeof r);
  r.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
  r.mnemonic = m;
  return r;
}
static void op_reg(ZydisEncoderRequest *r, ZydisRegister reg) {
  ZydisEncoderOperand *o = &r->operands[r->operand_count++];
  o->type = ZYDIS_OPERAND_TYPE_REGISTER;
  o->reg.value = reg;
}
static void op_abs(ZydisEncoderRequest *r, uint64_t addr, int size) {
  ZydisEncoderOperand *o = &r->operands[r->operand_count++];
  o->type = ZYDIS_OPERAND_TYPE_MEMORY;
  o->mem.base = ZYDIS_REGISTER_RIP;
  o->mem.displacement = (int64_t)addr;   /* absolute: the encoder makes it rip-relative */
  o->mem.size = size;
}
static void op_imm(ZydisEncoderRequest *r, uint64_t v) {
  ZydisEncoderOperand *o = &r->operands[r->operand_count++];
  o->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
  o->imm.u = v;
}

static int emit(Filter *f, size_t *off, ZydisEncoderRequest *r) {
  ZyanUSize len = ZYDIS_MAX_INSTRUCTION_LENGTH;
  if (*off + len > FILTER_DATA) return -1;
  if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstructionAbsolute(r, f->image + *off, &len, f->base + *off))) return -1;
  *off += len;
  return 0;
}
static int emit_jcc(Filter *f, size_t *off, ZydisMnemonic m, uint64_t target) {
  ZydisEncoderRequest r = req_new(m);
  r.branch_type = ZYDIS_BRANCH_TYPE_NEAR;
  r.branch_width = ZYDIS_BRANCH_WIDTH_32;   /* the same length in both layout passes */
  op_imm(&r, target);
  return emit(f, off, &r);
}

static const ZydisRegister filter_gprs[] = {
  ZYDIS_REGISTER_RBX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDX, ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_RDI,
  ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_R8, ZYDIS_REGISTER_R9, ZYDIS_REGISTER_R10,
  ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R12, ZYDIS_REGISTER_R13, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R15,
};

static uint64_t filter_reg_value(const struct user_regs_struct *r, int i) {
  const unsigned long long v[] = { r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp, r->rsp, r->r8,
                                   r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15 };
  return v[i];
}

static void restore_rax_flags(Filter *f, size_t *off, uint64_t save_rax, uint64_t save_flags, int *err) {
  ZydisEncoderRequest r = req_new(ZYDIS_MNEMONIC_MOV); op_reg(&r, ZYDIS_REGISTER_AX); op_abs(&r, save_flags, 2);
  *err |= emit(f, off, &r);
  r = req_new(ZYDIS_MNEMONIC_ADD); op_reg(&r, ZYDIS_REGISTER_AL); op_imm(&r, 0x7f);   /* OF from seto's byte */
  *err |= emit(f, off, &r);
  r = req_new(ZYDIS_MNEMONIC_SAHF);
  *err |= emit(f, off, &r);
  r = req_new(ZYDIS_MNEMONIC_MOV); op_reg(&r, ZYDIS_REGISTER_RAX); op_abs(&r, save_rax, 8);
  *err |= emit(f, off, &r);
}

/* Builds the stub for a point at pc. code: the program's bytes at pc (at least 32).
 * Returns 0, or -1 when the window at pc cannot be relocated. */
static int filter_build(Filter *f, uint64_t base, uint64_t pc, const uint8_t *code,
                        const struct user_regs_struct *rec, const MemValue *mem, int nmem) {
  memset(f, 0, sizeof *f);
  f->base = base;
  const uint64_t data = base + FILTER_DATA;
  const uint64_t save_rax = data, save_flags = data + 8, rec_flags = data + 16, rec_regs = data + 24;
  const uint64_t rec_mem = rec_regs + 8 * 16;
  uint64_t *d = (uint64_t *)(f->image + FILTER_DATA);
  d[2] = ((((rec->eflags & 0xd5) | 2) << 8) | ((rec->eflags >> 11) & 1));   /* lahf:seto */
  d[3] = rec->rax;
  for (int i = 0; i < 15; i++) d[4 + i] = filter_reg_value(rec, i);
  for (int k = 0; k < nmem; k++) d[(rec_mem - data) / 8 + k] = mem[k].value;
  uint64_t miss = 0;
  for (int pass = 0; pass < 2; pass++) {
    size_t off = 0;
    int err = 0;
    uint64_t target = pass ? miss : base + FILTER_DATA - 64;
    ZydisEncoderRequest r = req_new(ZYDIS_MNEMONIC_MOV); op_abs(&r, save_rax, 8); op_reg(&r, ZYDIS_REGISTER_RAX);
    err |= emit(f, &off, &r);
    r = req_new(ZYDIS_MNEMONIC_LAHF); err |= emit(f, &off, &r);
    r = req_new(ZYDIS_MNEMONIC_SETO); op_reg(&r, ZYDIS_REGISTER_AL); err |= emit(f, &off, &r);
    r = req_new(ZYDIS_MNEMONIC_MOV); op_abs(&r, save_flags, 2); op_reg(&r, ZYDIS_REGISTER_AX); err |= emit(f, &off, &r);
    r = req_new(ZYDIS_MNEMONIC_CMP); op_reg(&r, ZYDIS_REGISTER_AX); op_abs(&r, rec_flags, 2); err |= emit(f, &off, &r);
    err |= emit_jcc(f, &off, ZYDIS_MNEMONIC_JNZ, target);
    r = req_new(ZYDIS_MNEMONIC_MOV); op_reg(&r, ZYDIS_REGISTER_RAX); op_abs(&r, save_rax, 8); err |= emit(f, &off, &r);
    r = req_new(ZYDIS_MNEMONIC_CMP); op_reg(&r, ZYDIS_REGISTER_RAX); op_abs(&r, data + 24, 8); err |= emit(f, &off, &r);
    err |= emit_jcc(f, &off, ZYDIS_MNEMONIC_JNZ, target);
    for (int i = 0; i < 15; i++) {
      r = req_new(ZYDIS_MNEMONIC_CMP); op_reg(&r, filter_gprs[i]); op_abs(&r, data + 32 + 8 * i, 8);
      err |= emit(f, &off, &r);
      err |= emit_jcc(f, &off, ZYDIS_MNEMONIC_JNZ, target);
    }
    for (int k = 0; k < nmem; k++) {
      static const ZydisRegister acc[] = { 0, ZYDIS_REGISTER_AL, ZYDIS_REGISTER_AX, 0, ZYDIS_REGISTER_EAX,
                                           0, 0, 0, ZYDIS_REGISTER_RAX };
      ZydisRegister a = acc[mem[k].size];
      /* The program's operand, by its absolute address (the address registers hold
       * the recorded values here: they were just compared). */
      r = req_new(ZYDIS_MNEMONIC_MOV); op_reg(&r, a);
      ZydisEncoderOperand *o = &r.operands[r.operand_count++];
      o->type = ZYDIS_OPERAND_TYPE_MEMORY;
      o->mem.base = ZYDIS_REGISTER_RIP;
      o->mem.displacement = (int64_t)mem[k].addr;
      o->mem.size = mem[k].size;
      if (mem[k].addr - base + 0x80000000ULL > 0xffffffffULL) {   /* out of rip reach: via rax */
        r = req_new(ZYDIS_MNEMONIC_MOV); op_reg(&r, ZYDIS_REGISTER_RAX); op_imm(&r, mem[k].addr);
        err |= emit(f, &off, &r);
        r = req_new(ZYDIS_MNEMONIC_MOV); op_reg(&r, a);
        o = &r.operands[r.operand_count++];
        o->type = ZYDIS_OPERAND_TYPE_MEMORY; o->mem.base = ZYDIS_REGISTER_RAX; o->mem.size = mem[k].size;
      }
      err |= emit(f, &off, &r);
      r = req_new(ZYDIS_MNEMONIC_CMP); op_reg(&r, a); op_abs(&r, rec_mem + 8 * k, mem[k].size); err |= emit(f, &off, &r);
      err |= emit_jcc(f, &off, ZYDIS_MNEMONIC_JNZ, target);
    }
    /* All equal: the program's rax and flags back, then the trap. */
    restore_rax_flags(f, &off, save_rax, save_flags, &err);
    r = req_new(ZYDIS_MNEMONIC_INT3); err |= emit(f, &off, &r);
    f->trap_after = base + off;
    miss = base + off;
    restore_rax_flags(f, &off, save_rax, save_flags, &err);
    /* The displaced instructions, relocated: whole instructions covering 5 bytes. */
    size_t w = 0;
    while (w < 5) {
      ZydisDecodedInstruction ins;
      ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
      if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code + w, 32 - w, &ins, ops))) return -1;
      /* A call would push the stub's address, a return or an indirect jump cannot be
       * followed: the prototype displaces straight-line code and direct jumps only. */
      if (ins.meta.category == ZYDIS_CATEGORY_CALL || ins.meta.category == ZYDIS_CATEGORY_RET) return -1;
      ZydisEncoderRequest rr;
      if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(&ins, ops, ins.operand_count_visible, &rr))) return -1;
      int is_branch = ins.meta.category == ZYDIS_CATEGORY_COND_BR || ins.meta.category == ZYDIS_CATEGORY_UNCOND_BR;
      for (int i = 0; i < rr.operand_count; i++) {
        uint64_t next = pc + w + ins.length;
        if (rr.operands[i].type == ZYDIS_OPERAND_TYPE_MEMORY && rr.operands[i].mem.base == ZYDIS_REGISTER_RIP)
          rr.operands[i].mem.displacement += (int64_t)next;
        else if (rr.operands[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[i].imm.is_relative)
          rr.operands[i].imm.u = next + ops[i].imm.value.s;   /* absolute, re-encoded as rel32 */
        else if (is_branch) return -1;                          /* an indirect jump */
      }
      if (is_branch) { rr.branch_type = ZYDIS_BRANCH_TYPE_NEAR; rr.branch_width = ZYDIS_BRANCH_WIDTH_32; }
      err |= emit(f, &off, &rr);
      w += ins.length;
    }
    err |= emit_jcc(f, &off, ZYDIS_MNEMONIC_JMP, pc + w);
    f->window = w;
    if (err) return -1;
  }
  f->miss = miss;
  /* The jump over the window at pc; the rest of the window is never reached (the
   * prototype assumes no branch lands inside it: rewind would check the code's
   * branch targets, as softcount-plan.mjs does). */
  ZydisEncoderRequest j = req_new(ZYDIS_MNEMONIC_JMP);
  j.branch_type = ZYDIS_BRANCH_TYPE_NEAR;
  j.branch_width = ZYDIS_BRANCH_WIDTH_32;
  op_imm(&j, base);
  ZyanUSize len = sizeof f->patch;
  if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstructionAbsolute(&j, f->patch, &len, pc))) return -1;
  ZydisEncoderNopFill(f->patch + len, f->window - len);
  return 0;
}
#endif
