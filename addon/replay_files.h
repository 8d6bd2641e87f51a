// Emulated files in a replayed process (docs/timeline.md, "Files and shared
// memory"). Each data file the recorded program mapped, and each piece of shared
// memory, is a memfd named "rewind:<identity>" in the replayed process, and its
// mappings map that memfd as recorded (MAP_SHARED or MAP_PRIVATE): stores through
// one shared mapping show in the others, private pages the program has not written
// follow the file, MADV_DONTNEED re-reads it, access past its end raises SIGBUS,
// all by the kernel as when recorded. src/replay/emulated-files.ts creates them
// and writes the recorded contents.
//
// A forked copy of the process (a checkpoint) shares the memfd pages with it. The
// copy's own view is made private by emuUnshare: a new memfd with the same
// contents and name, every mapping of the old one remapped onto it, keeping the
// pages of private mappings that the program had already written.
#pragma once
#include <sys/types.h>

#include <cstdint>

namespace rw {

// Gives the stopped process its own copy of the emulated file open at `fd`.
void emuUnshare(pid_t pid, int fd);

// A syscall injected into the stopped process for its emulated files (at the stub's
// syscall instruction): its result, or a NativeError naming the call if it failed.
int64_t injectForFiles(pid_t pid, int nr, uint64_t a0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                       uint64_t a4 = 0, uint64_t a5 = 0);

// After a fork: unshares every emulated file that the process can change through
// a writable shared mapping (the others change only through emuUnshare'd updates).
void emuUnshareWritable(pid_t pid);

}  // namespace rw
