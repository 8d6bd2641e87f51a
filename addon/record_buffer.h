// The recorder's side of the in-process syscall buffer (docs/syscallbuf.md):
// copying the records the preload library completed into the trace, and the
// header writes the recorder makes (emptying it, the fork guard, traced writes).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "record_session.h"

namespace rw {

struct Recording;

// Copies the records completed since the last flush into the trace, as ordinary
// syscall events. Reads the tracee's memory only.
void flushBuffer(pid_t pid, Session& s, RecordWriter& w, uint32_t& count);

// At a traced syscall's exit: the header writes the recorder makes there (empty the
// buffer unless a record is being written, lift the fork guard, ask for traced
// calls), appended to the event's memory writes so that replay makes the same
// change at the same point. Returns how many writes it appended.
uint32_t appendBufferWrites(pid_t pid, Session& s, RecordWriter& w);

// What a point's state hash of `pid` leaves out ([start, end) pairs): the syscall
// buffers of its process, the first thread's and every thread's own (the replay's
// library writes their headers' feed fields), and the stack around the other threads'
// stack pointers (the library's frames: it runs other code in the replay).
std::vector<uint64_t> bufferRanges(const Recording& rec, pid_t pid, const Session& s);

// The header's `traced` value the recorder wants for this process.
uint32_t tracedWanted(const Session& s);

}  // namespace rw
