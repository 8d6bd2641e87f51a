// Shared memory the program's children write. Children run live and are not
// recorded; what they store into memory they share with the recorded process
// (MAP_SHARED anonymous memory, shared file mappings) changes it outside its own
// instructions. From the program's first fork on, the recorder keeps a copy of
// each writable shared mapping, compares it at every traced syscall's exit, and
// records what changed as memory that syscall wrote: replay makes the same change
// at the same point. (A change the program reads between two syscalls, without
// one between the child's store and its load, cannot be placed; see docs/usage.md.)
#pragma once
#include <sys/types.h>

#include <cstdint>

#include "record_session.h"

namespace rw {

// At the entry of a fork-like call: from now on shared memory is watched (the copy
// is taken before the child exists).
void watchSharedMemory(pid_t pid, Session& s);

// At a traced syscall's exit while watching: appends the changed bytes of shared
// memory to the event's writes; returns how many it appended.
uint32_t appendSharedChanges(pid_t pid, Session& s, RecordWriter& w);

}  // namespace rw
