// Syscalls that change a file the program has mapped (write, pwrite, truncate,
// fallocate, copy_file_range, ...): the mapped memory changes with the file,
// outside the program's own stores, so the recorder hands such a call to JS, which
// records the file's new bytes (docs/trace-format.md, file-data events).
#pragma once
#include <sys/types.h>

#include <cstdint>

#include "loop_result.h"
#include "record_session.h"

namespace rw {

// At a successful syscall's exit: true (with out.stop = 'file-changed' { dev, ino,
// fd, from, to, size }) when it wrote to one of s.mappedFiles.
bool fileChangeStop(pid_t pid, Session& s, int64_t nr, int64_t result, LoopResult& out);

}  // namespace rw
