// The desched event of a thread's syscall buffer (docs/syscallbuf.md, "Threads"),
// after rr's: one thread of a process runs at a time while recording, so a buffered
// call that blocks (a read of an empty pipe) would keep the others from ever running.
// Each thread gets a software perf event that counts its context switches
// (PERF_COUNT_SW_CONTEXT_SWITCHES opens without a PMU) and signals the thread itself
// (F_SETOWN_EX F_OWNER_TID, F_SETSIG SIGPWR) at every switch. The preload library
// arms it around a call that may block and disarms it after; if the call blocks, the
// thread is switched out, the signal interrupts the call and stops the thread, and
// the recorder records the call as interrupted (the library then makes it again,
// traced: the thread gives up the process to the next one while in the kernel).
//
// The event's fd is the thread's (it must arm it without a stop): the recorder opens
// it with calls of its own injected at a traced call's exit, keeps a copy (through
// pidfd_getfd) to disarm it from outside, and tells the library the fd in a header
// word the trace does not have: in replay it is 0, the library arms nothing and the
// replay serves or checks the call as any other buffered call.
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "record_session.h"

namespace rw {

constexpr int kDeschedSignal = SIGPWR;

// At a traced syscall's exit of a thread of a process with threads: sets the event up
// once (the header's mayBlock word, a write the event records, says the library may
// buffer calls that may block), and tells the library whether the signal is blocked
// now (then such calls go traced: the signal could not interrupt them). Returns how
// many memory writes it appended.
uint32_t deschedAtExit(pid_t pid, Session& s, RecordWriter& w);

// A signal stop of `pid`: 0 if it is not the desched signal (the event is disarmed
// all the same if the thread stands in a buffered call: a stop is a switch out); else
// the signal is not delivered, and 2 says it interrupted a buffered call, which the
// caller records as interrupted (the library makes it again, traced), 1 that it did
// not (it came as the call returned).
int deschedStop(pid_t pid, Session& s, int sig, const siginfo_t& si);

// The thread is resumed with a signal: its handler may block the desched signal (its
// mask is known again at the next traced exit), so calls that may block go traced.
void deschedSignalDelivered(pid_t pid, Session& s);

// A forked child's copy of the header: no desched event (the parent's counts the
// parent's thread); the three words, zeroed, go into the clone event's child writes.
void deschedForkedChild(pid_t child, uint64_t bufAddr, std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& writes);

// Gone with the image (exec): set up again in the new one.
void deschedForget(Session& s);

}  // namespace rw
