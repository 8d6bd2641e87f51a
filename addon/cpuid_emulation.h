// CPUID from the trace (docs/portability.md). The recorded program's CPUID
// instructions either fault (CPUID faulting, ARCH_SET_CPUID) or were patched into
// `ud2` (0F A2 -> 0F 0B, same length) by JS at the sites a decoder found; either way
// the tracer answers: while recording from the CPU (or a masked or foreign table of
// answers) and writes a cpuid event, in replay from that event. The record, replay
// and debug loops each make one call here.
#pragma once
#include <napi.h>
#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "event_format.h"
#include "ptrace_ops.h"

namespace rw {

struct CpuidAnswer {
  uint32_t a, b, c, d;
};

// One process's CPUID emulation. It belongs to the process's owner: a replayed
// process's Tracee (tracee.h), a recorded process's Session (record_session.h);
// a fork copy or a child starts with a copy of its parent's.
struct CpuidState {
  std::set<uint64_t> sites;  // addresses of patched CPUID instructions (now ud2)
  bool faulting = false;     // ARCH_SET_CPUID(0) is in force in the tracee
  // Recording: the answers the program gets, by (leaf << 32 | subleaf); null: this CPU's.
  std::shared_ptr<const std::map<uint64_t, CpuidAnswer>> answers;
};

// Recording, at a signal-delivery stop: when the stop is one of the program's
// CPUID instructions (a patched site's SIGILL, or a faulting CPUID's SIGSEGV),
// answers it, writes the cpuid event and returns true.
bool cpuidRecordTrap(pid_t pid, const CpuidState& state, int sig, const siginfo_t& si, RecordWriter& w);

// Recording: a child forked by the program runs live and untraced. It must not
// trap on CPUID: faulting is turned off in it (through the `syscall` instruction
// at insnAddr) and, unless it shares the parent's memory, the patched sites get
// their original bytes back.
void cpuidReleaseChild(const CpuidState& parent, pid_t child, bool sharesMemory, uint64_t insnAddr);

// Replay of a cpuid event: `st` is the first stop after resuming. Returns an
// empty string when it was the recorded CPUID (answered, the program moves on),
// else what happened instead.
std::string cpuidReplayEvent(pid_t pid, const CpuidState& state, const Stop& st, const RecordView& v);

// What the cpuid exports do, on the owner's state (tracee_exports.cc, recording_exports.cc):
// the table of answers from JS rows (false: a row is not [leaf, subleaf, eax, ebx, ecx, edx]),
// ARCH_SET_CPUID(0) in the stopped tracee, forgetting the sites in [start, end) and
// patching `sites` there (returns how many were patched).
bool cpuidAnswersFrom(const Napi::Value& rows, std::shared_ptr<const std::map<uint64_t, CpuidAnswer>>& out);
bool cpuidEnableFaulting(pid_t pid, CpuidState& state);
int cpuidPatch(pid_t pid, CpuidState& state, uint64_t start, uint64_t end, const std::vector<uint64_t>& sites);

// Memory as JS sees it: patched sites read as the original CPUID bytes; a write
// over a site that puts the original bytes back keeps it patched.
void cpuidHidePatches(const CpuidState& state, uint64_t addr, uint8_t* data, size_t len);
void cpuidAfterWrite(pid_t pid, CpuidState& state, uint64_t addr, size_t len);

void registerCpuidExports(Napi::Env env, Napi::Object exports);

}  // namespace rw
