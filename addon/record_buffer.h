// The recorder's side of the in-process syscall buffer (docs/syscallbuf.md):
// copying the records the preload library completed into the trace, and the
// header writes the recorder makes (emptying it, the fork guard, traced writes).
#pragma once
#include <sys/types.h>

#include <cstdint>

#include "record_session.h"

namespace rw {

// Copies the records completed since the last flush into the trace, as ordinary
// syscall events. Reads the tracee's memory only.
void flushBuffer(pid_t pid, Session& s, RecordWriter& w, uint32_t& count);

// At a traced syscall's exit: the header writes the recorder makes there (empty the
// buffer unless a record is being written, lift the fork guard, ask for traced
// calls), appended to the event's memory writes so that replay makes the same
// change at the same point. Returns how many writes it appended.
uint32_t appendBufferWrites(pid_t pid, Session& s, RecordWriter& w);

// The header's `traced` value the recorder wants for this process.
uint32_t tracedWanted(const Session& s);

}  // namespace rw
