// The x86 debug registers of a tracee, as the debugger uses them: four slots
// (DR0-DR3, each an address with a kind and a length) and the control word DR7 that
// enables them, written through PTRACE_POKEUSER; DR6 says which slot trapped.
// Hardware breakpoints and watchpoints live here; int3 breakpoints do not.
#pragma once
#include <sys/types.h>

#include <array>
#include <cstdint>

namespace rw {

// One debug register: type 0 = execute, 1 = write, 3 = read/write (DR7's R/W
// bits); len 1, 2, 4 or 8 bytes (ignored for execute, which the CPU wants as 1).
struct Slot {
  bool used = false;
  uint64_t addr = 0;
  int type = 0;
  int len = 1;
};
using Slots = std::array<Slot, 4>;

// DR6 bits: slot i triggered (bit i), the trap is a single step (BS).
constexpr uint64_t kDr6SingleStep = 1ull << 14;

void pokeDr(pid_t pid, int i, uint64_t v);
uint64_t peekDr(pid_t pid, int i);

// DR7 enabling the used slots (local enable, R/W and LEN fields).
uint64_t dr7For(const Slots& slots);

// Loads the slots into DR0-DR3 and enables them in DR7. DR7 is cleared first: the
// kernel checks each address against the enabled slots as it is written.
void writeDebugRegs(pid_t pid, const Slots& slots);

// An execute slot at pc.
bool hwExecAt(const Slots& slots, uint64_t pc);

}  // namespace rw
