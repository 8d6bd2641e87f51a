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
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "state_hash.h"
#include "tracee.h"

namespace rw {

struct PointSearch {
  uint64_t pc = 0;
  user_regs_struct regs{};       // recorded at the point (compared without orig_rax, TF, RF)
  StateHash hash;
  AddressRanges excluded;        // left out of the hash (the filter's page among them)
  uint64_t trapAfter = 0;        // rip after the filter's int3 (or the int3 at pc): a candidate
  uint64_t miss = 0;             // where a rejected candidate goes on; 0: no filter, the
                                 // int3 at pc is stepped over (code the filter cannot hold)
  std::vector<uint8_t> original; // the program's bytes under the patch at pc
  uint64_t budgetTicks = 0;      // user CPU time (clock ticks) the search may take
  bool flagsDead = false;        // the filter's key check set the arithmetic flags, which
                                 // are dead at pc: a candidate gets the recorded ones
};

struct PointFound {
  bool found = false;
  std::string why;               // when not found
  uint64_t candidates = 0;       // filter traps the hash had to decide
};

// The test of one filter candidate (the process stopped at the filter's int3, its
// registers `atPc` as at the point's pc): is it the point, a miss, or proof that the
// point never comes (the same rejected state again: the loop is periodic at pc)?
// One per search, since it remembers the rejected states; the search below and a
// debugger that runs the stretch before a point itself (docs/timeline.md, the plan
// under *Status*) judge candidates the same way.
class CandidateJudge {
 public:
  enum Verdict { kMiss, kFound, kCycles };
  Verdict judge(pid_t pid, const PointSearch& p, const user_regs_struct& atPc);

 private:
  std::set<std::pair<uint64_t, uint64_t>> rejected_;  // state hashes of candidates with the recorded registers
};

// Runs the stopped process (its pending signal delivered first) until the point:
// there it stands with the recorded registers and the program's code back at pc.
PointFound reachPoint(Tracee& t, const PointSearch& p);

// The user_regs_struct as points compare it: orig_rax and the trap flags left out.
user_regs_struct pointComparable(user_regs_struct r);

}  // namespace rw
