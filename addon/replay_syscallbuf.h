// Replay of buffered syscalls in-process (docs/syscallbuf.md, "Replay"): rewind
// writes the recorded results of the buffered calls to come into a feed in the
// replayed process, and the preload library takes them from there without a stop.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "event_format.h"
#include "syscall_abi.h"

namespace rw {

// The feed of one replayed process (copied with it into a checkpoint). A fill
// serves until its records run out: a record the library did not take (the call
// went the traced way, as when recording) is replayed by the loop, and the library's
// cursor is moved past it.
struct BufferFeed {
  uint64_t address = 0;            // of the feed in the replayed process; 0: none
  uint32_t filled = 0;             // records in the current fill
  uint32_t passed = 0;             // of them, replayed: by the library or by the loop
  std::vector<uint32_t> offsets;   // of each record in the feed, and of its end
  const uint8_t* next = nullptr;   // the trace record `passed` stands for (in this batch's events)
  bool armed = false;              // the feed may hold records the library could still take
  // The preload library's text and its buffer: a debugger must not stop inside the
  // text while the library serves calls (those states exist only in a fed replay),
  // and treats its stores there specially (debugger_feed.cc).
  uint64_t codeStart = 0, codeEnd = 0, bufStart = 0, bufEnd = 0;
};

// Where replay maps the feed, if the registration asks for one: far from where the
// recorded program maps anything (below the replay stub, src/replay/stub.ts).
constexpr uint64_t kFeedAddress = 0x6ffe00000000ull;
constexpr uint64_t kFeedSize = 4ull << 20;

// True for the preload library's registration prctl, recorded as accepted, from a
// library that reads a feed: replay maps the feed in place of the annulled call.
bool isFeedRegistration(int64_t nr, const uint64_t a[6], int64_t result);
// The mmap that maps the feed: each thread that registers a buffer of its own gets
// its own feed, the first free one of kFeedSlots slots from kFeedAddress up (all
// below the stub). False past the last slot (the thread's calls then stop).
constexpr uint32_t kFeedSlots = 256;
bool feedMmapArgs(uint64_t m[6], uint32_t slot);
// After that mmap returned `mapped`: tells the library (the buffer header's feed field).
// `registration` is the registration's arguments (the buffer, its size, an address in
// the library's text).
void feedInstall(pid_t pid, BufferFeed& feed, const uint64_t registration[6], int64_t mapped);

// Makes the feed serve the buffered syscall events from `at` on (at most `room`,
// all before the end of `events`, the event after them too): the current fill when
// `at` is its next record, else a new one. False when there is none to serve (the
// feed is then empty). Stops at the first event the library could not serve:
// another kind, another call, or one whose effects replay must see.
bool feedReady(pid_t pid, BufferFeed& feed, const Row* table, const std::vector<uint8_t>& events, size_t at,
               uint32_t room);
// At the stop after a resume from feedReady: how many records the library took
// (each a replayed event, in order, from `at` on). The stop belongs to the event
// after them; if that is a record of the fill, the loop replays it (the call went the
// traced way) and the library will skip it.
uint32_t feedTaken(pid_t pid, BufferFeed& feed, const std::vector<uint8_t>& events, size_t at);
// A debugger's stop in the middle of a fill: how many records the library took
// since the resume (each a replayed event, in order); the feed is emptied, so that
// nothing runs on from it but the loop's next fill.
uint32_t feedStopped(pid_t pid, BufferFeed& feed);
// Writes an empty feed into a copy of the process (a checkpoint), which nothing accounts for.
void feedEmptyCopy(pid_t copy, uint64_t feedAddress);
// A new batch of events: positions in the last one mean nothing.
inline void feedNewBatch(BufferFeed& feed) { feed.next = nullptr; }
// Empties the feed, so the library takes nothing rewind does not account for.
void feedDisarm(pid_t pid, BufferFeed& feed);

}  // namespace rw
