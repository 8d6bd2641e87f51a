/* The memory operands of the code around a pc, decoded with Zydis: shared by the
 * preemption study's fingerprint (fpstep.c) and its in-process filter (sigpoint.c).
 * The includer defines readmem(addr, buf, len), which reads the tracee. */
#ifndef PREEMPTION_LOOPOPS_H
#define PREEMPTION_LOOPOPS_H
#include <Zydis/Zydis.h>
#include <stdint.h>
#include <string.h>
#include <sys/user.h>

#include "hashmap.h"

static size_t readmem(uint64_t addr, void *buf, size_t len);

static ZydisDecoder decoder;
static Map block_index;             /* pc -> index into blocks */

/* One memory operand of the code at a pc, in a form cheap to evaluate at every step. */
typedef struct {
  uint64_t next_ip;                 /* for rip-relative operands */
  int64_t disp;
  ZydisRegister base, index, segment;
  uint8_t scale;
  uint32_t size;                    /* bytes; 0 when the decoder does not say */
  uint8_t first;                    /* belongs to the instruction at pc itself */
  uint8_t valid_here;               /* its address registers hold their values at pc */
} MemOp;

typedef struct {
  int nops;
  uint8_t is_syscall;
  MemOp ops[48];
} Block;

static Block *blocks;
static size_t nblocks, capblocks;

static uint64_t gpr(const struct user_regs_struct *r, ZydisRegister reg) {
  switch (reg) {
    case ZYDIS_REGISTER_RAX: return r->rax; case ZYDIS_REGISTER_RBX: return r->rbx;
    case ZYDIS_REGISTER_RCX: return r->rcx; case ZYDIS_REGISTER_RDX: return r->rdx;
    case ZYDIS_REGISTER_RSI: return r->rsi; case ZYDIS_REGISTER_RDI: return r->rdi;
    case ZYDIS_REGISTER_RBP: return r->rbp; case ZYDIS_REGISTER_RSP: return r->rsp;
    case ZYDIS_REGISTER_R8: return r->r8;   case ZYDIS_REGISTER_R9: return r->r9;
    case ZYDIS_REGISTER_R10: return r->r10; case ZYDIS_REGISTER_R11: return r->r11;
    case ZYDIS_REGISTER_R12: return r->r12; case ZYDIS_REGISTER_R13: return r->r13;
    case ZYDIS_REGISTER_R14: return r->r14; case ZYDIS_REGISTER_R15: return r->r15;
    default: return 0;
  }
}

static int is_gpr64(ZydisRegister reg) {
  return reg == ZYDIS_REGISTER_NONE || (reg >= ZYDIS_REGISTER_RAX && reg <= ZYDIS_REGISTER_R15) ||
         reg == ZYDIS_REGISTER_RIP;
}

/* Decodes one instruction sequence from start, up to 32 instructions, through the
 * fall-through of conditional branches and over calls, adding its memory operands to b. Marks in
 * written the registers it writes; a sequence that starts at pc marks its operands
 * valid_here when no register of their address was written before them. Returns the
 * nearest target at or before pc of a branch (the head of the innermost loop around pc,
 * within 4 KiB), or 0. */
static uint64_t decode_run(Block *b, uint64_t start, uint64_t end, uint64_t pc, uint8_t *written) {
  uint8_t code[32 * 15];
  readmem(start, code, sizeof code);
  uint64_t head = 0;
  size_t off = 0;
  for (int i = 0; i < 32 && off + 15 <= sizeof code && start + off < end; i++) {
    ZydisDecodedInstruction ins;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code + off, sizeof code - off, &ins, ops))) break;
    uint64_t ip = start + off;
    if (ip == pc && ins.meta.category == ZYDIS_CATEGORY_SYSCALL) b->is_syscall = 1;
    for (int k = 0; k < ins.operand_count && b->nops < 48; k++) {
      const ZydisDecodedOperand *op = &ops[k];
      if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op->imm.is_relative &&
          (ins.meta.category == ZYDIS_CATEGORY_COND_BR || ins.meta.category == ZYDIS_CATEGORY_UNCOND_BR)) {
        ZyanU64 target = 0;
        if (ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&ins, op, ip, &target)) && target <= pc &&
            pc - target < 4096 && target > head)
          head = target;
      }
      if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type != ZYDIS_MEMOP_TYPE_MEM) continue;
      if (!is_gpr64(op->mem.base) || !is_gpr64(op->mem.index)) continue;
      MemOp *m = &b->ops[b->nops++];
      m->next_ip = ip + ins.length;
      m->disp = op->mem.disp.value;
      m->base = op->mem.base; m->index = op->mem.index; m->segment = op->mem.segment;
      m->scale = op->mem.scale;
      m->size = op->size / 8;
      m->first = ip == pc;
      m->valid_here = start == pc && !written[op->mem.base] && !written[op->mem.index];
    }
    for (int k = 0; k < ins.operand_count; k++)
      if (ops[k].type == ZYDIS_OPERAND_TYPE_REGISTER && (ops[k].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
        written[ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, ops[k].reg.value)] = 1;
    written[ZYDIS_REGISTER_RIP] = 0;   /* a rip-relative address does not move */
    written[ZYDIS_REGISTER_NONE] = 0;  /* flags and the like have no enclosing GPR */
    off += ins.length;
    ZydisInstructionCategory c = ins.meta.category;
    if (c == ZYDIS_CATEGORY_CALL) {
      /* Past a call, as the ABI has it: the callee may change the caller-saved registers
       * (the loop around a call, such as memcpy's caller, keeps its counter beyond it). */
      static const ZydisRegister clobbered[] = { ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDX,
        ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_R8, ZYDIS_REGISTER_R9, ZYDIS_REGISTER_R10,
        ZYDIS_REGISTER_R11 };
      for (size_t k = 0; k < sizeof clobbered / sizeof *clobbered; k++) written[clobbered[k]] = 1;
      continue;
    }
    if (c == ZYDIS_CATEGORY_UNCOND_BR || c == ZYDIS_CATEGORY_RET ||
        c == ZYDIS_CATEGORY_SYSCALL || c == ZYDIS_CATEGORY_INTERRUPT) break;
  }
  return head;
}

/* The memory operands of the code around pc: from pc on (see decode_run), and, when a
 * backward branch closes a loop around pc, the loop's part before pc, whose operands
 * count only when their address registers are written nowhere in the loop (their
 * values at pc are then the ones they will have there). */
static Block *block_at(uint64_t pc) {
  uint64_t *slot = map_get(&block_index, pc);
  if (slot) return &blocks[*slot];
  if (nblocks == capblocks) {
    capblocks = capblocks ? capblocks * 2 : 1024;
    blocks = realloc(blocks, capblocks * sizeof *blocks);
  }
  Block *b = &blocks[nblocks];
  memset(b, 0, sizeof *b);
  uint8_t written[ZYDIS_REGISTER_MAX_VALUE + 1] = { 0 };
  uint64_t head = decode_run(b, pc, UINT64_MAX, pc, written);
  if (head && head < pc) {
    int from = b->nops;
    decode_run(b, head, pc, pc, written);
    for (int k = from; k < b->nops; k++)
      b->ops[k].valid_here = !written[b->ops[k].base] && !written[b->ops[k].index];
  }
  map_put(&block_index, pc, nblocks);
  return &blocks[nblocks++];
}

static uint64_t op_addr(const MemOp *m, const struct user_regs_struct *r) {
  uint64_t a = (uint64_t)m->disp;
  if (m->base == ZYDIS_REGISTER_RIP) a += m->next_ip; else a += gpr(r, m->base);
  if (m->index != ZYDIS_REGISTER_NONE) a += gpr(r, m->index) * (m->scale ? m->scale : 1);
  if (m->segment == ZYDIS_REGISTER_FS) a += r->fs_base;
  if (m->segment == ZYDIS_REGISTER_GS) a += r->gs_base;
  return a;
}

#endif
