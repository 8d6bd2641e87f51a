// Reaching a point named by its state in a replay (docs/preemption.md,
// docs/timeline.md "Signals"): the filter (src/points/filter-stub.ts) is in the
// process, jumped to from the point's pc; the program runs at native speed and
// traps only where its registers and the loop's operand values equal the recorded
// ones; each such candidate is confirmed here with the exact-state hash. The first
// arrival with the recorded state is the point. A point that does not come is
// reported with the reason, never replaced by a nearby one.
#pragma once
#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <string>
#include <vector>

#include "state_hash.h"
#include "tracee.h"

namespace rw {

struct PointSearch {
  uint64_t pc = 0;
  user_regs_struct regs{};       // recorded at the point (compared without orig_rax, TF, RF)
  StateHash hash;
  AddressRanges excluded;        // left out of the hash (the filter's page among them)
  uint64_t trapAfter = 0;        // rip after the filter's int3: a candidate
  uint64_t miss = 0;             // where a rejected candidate goes on
  std::vector<uint8_t> original; // the program's bytes under the patch at pc
  uint64_t budgetTicks = 0;      // user CPU time (clock ticks) the search may take
};

struct PointFound {
  bool found = false;
  std::string why;               // when not found
  uint64_t candidates = 0;       // filter traps the hash had to decide
};

// Runs the stopped process (its pending signal delivered first) until the point:
// there it stands with the recorded registers and the program's code back at pc.
PointFound reachPoint(Tracee& t, const PointSearch& p);

// The user_regs_struct as points compare it: orig_rax and the trap flags left out.
user_regs_struct pointComparable(user_regs_struct r);

}  // namespace rw
