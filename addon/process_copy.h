// Copies of a stopped tracee and what tells its states apart: forkCopy leaves a
// stopped copy of the process (a checkpoint) that continues the same replay;
// fingerprint names a state when no arrival count can (docs/timeline.md); the
// pending-signal mask says whether a copy may be taken here at all (a signal
// pending would be delivered in the parent, not in the copy).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <vector>

#include "tracee.h"

namespace rw {

// A stopped copy of the stopped tracee pid, made by a clone injected at the
// `syscall` instruction at insn; the copy is the original's sibling (CLONE_PARENT:
// the tracer's child when the tracer started the original, reaped whole when killed). `sw` (address -> original byte) are the int3s in
// pid: lifted around the fork, so that the copy holds none. Debug registers are
// not inherited. The copy gets the registers, the replay session and the CPUID
// state of `t` (Tracee::forkedAs), and its own emulated files where they are written.
// The other threads of a multi-threaded process are re-created in the copy
// (forkCopyThreads, thread_copy.h, which also says which thread copies which).
TraceePtr forkCopy(Tracee& t, uint64_t insn, const std::map<uint64_t, uint8_t>* sw);

// forkCopy of one thread of t's process alone (`caller`, t.pid for forkCopy): the
// copy is a process of one thread, its copy.
TraceePtr forkCopyCaller(Tracee& t, pid_t caller, uint64_t insn, const std::map<uint64_t, uint8_t>* sw);

// The registers (orig_rax and the trap flags left out) and the 64 bytes at rsp.
std::vector<uint8_t> fingerprint(pid_t pid);


}  // namespace rw
