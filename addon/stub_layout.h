// Addresses in the replay stub's page (src/replay/stub.ts writes the stub and
// keeps the same numbers): its `syscall; int3` instruction, its routine that maps a
// file at one stop (openat, mmap, close; registers as replay_images.cc sets them),
// and scratch bytes past its code where rewind puts the strings of the syscalls it
// injects.
#pragma once
#include <cstdint>

namespace rw {
constexpr uint64_t kStubSyscall = 0x6fff00000100;
constexpr uint64_t kStubMapFile = 0x6fff00000110;
constexpr uint64_t kStubScratch = 0x6fff00000c00;
}  // namespace rw
