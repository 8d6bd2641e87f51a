// A slice due while the program stands inside a rep-string instruction (`rep stosb`
// of a big memset, `rep movsb` of a big memcpy), part way through its iterations.
// A copy there would stand at a state no run arrives at again (an arrival is an
// instruction's start; src/arch/rep-string.ts says the same for JS), so once dropped
// it could not be made again, and it could not end a search's window. Put off
// instead, the copy never came in a program that spends its time in one rep: the
// next SIGSTOP stopped it inside a rep again (a forward continue over 60 memsets of
// 256 MiB left one copy in 1.8 s, and each reverse-continue then re-ran the 1.8 s
// twice). So the program runs on to the instruction after the rep (an int3 there,
// taken out at the stop), and the copy is taken there.
//
// The test is a walk over the prefixes: the string opcodes take no ModRM, so the
// legacy prefixes, a REX and the opcode byte decide it exactly (the tracer thread
// has no decoder; JS decodes the same with iced-x86).
#include <signal.h>
#include <sys/ptrace.h>

#include <cstring>

#include "debugger.h"
#include "run_clock.h"
#include "slice_timer.h"
#include "tracer_thread.h"

namespace rw {

namespace {

bool isOtherPrefix(uint8_t b) {
  switch (b) {
    case 0x66: case 0x67: case 0x2e: case 0x36: case 0x3e: case 0x26: case 0x64: case 0x65: case 0xf0:
      return true;
    default:
      return false;
  }
}

bool isStringOpcode(uint8_t b) { return (b >= 0x6c && b <= 0x6f) || (b >= 0xa4 && b <= 0xa7) || (b >= 0xaa && b <= 0xaf); }

}  // namespace

uint64_t Debugger::repStringEnd() {
  const uint64_t pc = regs().rip;
  uint8_t code[15];
  size_t n = tracee->read(pc, code, sizeof code);
  for (size_t i = 0; i < n; i++) {  // the program's bytes under gdb's breakpoints
    auto b = sw.find(pc + i);
    if (b != sw.end()) code[i] = b->second;
  }
  bool rep = false;
  size_t k = 0;
  for (; k < n; k++) {
    if (code[k] == 0xf2 || code[k] == 0xf3) rep = true;
    else if (!isOtherPrefix(code[k])) break;
  }
  if (k < n && (code[k] & 0xf0) == 0x40) k++;  // a REX comes right before the opcode
  return rep && k < n && isStringOpcode(code[k]) ? pc + k + 1 : 0;
}

Debugger::RepExit Debugger::runOutOfRepString(uint64_t next, int request, Stop& other) {
  uint8_t orig = 0;
  if (trapAt(next) || tracee->read(next, &orig, 1) != 1) return RepExit::kNotRun;  // a breakpoint of its own there: the slice waits
  tracee->write(next, "\xcc", 1);
  regsValid = false;
  resumedAt = runClockNs(tracee->pid);  // run time is the process's CPU time (run_clock.h)
  Stop st;
  try {
    resume(pid, request, 0);
    st = waitStop(pid);
  } catch (...) {
    tracee->write(next, &orig, 1);
    throw;
  }
  uint64_t ranTo = runClockNs(tracee->pid);
  if (ranTo > resumedAt) ranNs += ranTo - resumedAt;  // (0: the process is gone)
  if (st.kind == Stop::kExited || st.kind == Stop::kKilled) {
    other = st;
    return RepExit::kOther;
  }
  tracee->write(next, &orig, 1);
  if (backFromPlantedTrap(st, next)) return RepExit::kAtNext;
  other = st;  // a fault, a watchpoint's trigger, an interrupt: the caller's
  return RepExit::kOther;
}

// The stop is the int3 planted at `next` (taken out again by the caller): the
// thread is put back at next, where the instruction before it left it.
bool Debugger::backFromPlantedTrap(const Stop& st, uint64_t next) {
  if (st.kind != Stop::kSignal || st.sig != SIGTRAP) return false;
  user_regs_struct r = regs();
  if (r.rip != next + 1) return false;
  r.rip = next;
  setRegs(pid, r);
  regsCache = r;
  return true;
}

}  // namespace rw
