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

#include <string>
#include <vector>

#include "event_format.h"
#include "ptrace_ops.h"

namespace rw {

// Recording, at a signal-delivery stop: when the stop is one of the program's
// CPUID instructions (a patched site's SIGILL, or a faulting CPUID's SIGSEGV),
// answers it, writes the cpuid event and returns true.
bool cpuidRecordTrap(pid_t pid, int sig, const siginfo_t& si, RecordWriter& w);

// Recording: a child forked by the program runs live and untraced. It must not
// trap on CPUID: faulting is turned off in it (through the `syscall` instruction
// at insnAddr) and, unless it shares the parent's memory, the patched sites get
// their original bytes back.
void cpuidReleaseChild(pid_t parent, pid_t child, bool sharesMemory, uint64_t insnAddr);

// Replay of a cpuid event: `st` is the first stop after resuming. Returns an
// empty string when it was the recorded CPUID (answered, the program moves on),
// else what happened instead.
std::string cpuidReplayEvent(pid_t pid, const Stop& st, const RecordView& v);

// A checkpoint (forked copy) has the same patched code as its parent.
void cpuidCopyState(pid_t from, pid_t to);
void cpuidForget(pid_t pid);

// Memory as JS sees it: patched sites read as the original CPUID bytes; a write
// over a site that puts the original bytes back keeps it patched.
void cpuidHidePatches(pid_t pid, uint64_t addr, uint8_t* data, size_t len);
void cpuidAfterWrite(pid_t pid, uint64_t addr, size_t len);

// Forgets the patched sites in [start, end) and patches those of `sites` there
// (addresses) that hold a CPUID: what cpuidPatch() does for JS, for the loops that
// map known images themselves (record_images.h, replay_images.h). Returns how many.
int cpuidPatchRange(pid_t pid, uint64_t start, uint64_t end, const std::vector<uint64_t>& sites);

void registerCpuidExports(Napi::Env env, Napi::Object exports);

}  // namespace rw
