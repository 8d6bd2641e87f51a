// The exact-state hash of a stopped process: see state_hash.h. xxHash (libxxhash,
// header-only here) rather than a hand-written hash: the prototype's 64-bit mix
// ran at about 300 MB/s, and a point's name needs a hash whose collisions are
// negligible, which xxh3-128 is made for.
#include "state_hash.h"

#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ptrace_ops.h"
#include "tracer_thread.h"
#include "untouched_pages.h"

namespace rw {
namespace {

constexpr size_t kLegacyArea = 512;   // FXSAVE layout: x87, MXCSR, XMM0-15
constexpr size_t kXsaveHeader = 64;   // XSTATE_BV/XCOMP_BV: which components are in init state
constexpr size_t kXsaveMax = 1 << 14;
constexpr size_t kChunk = 1 << 20;
constexpr uint64_t kRedZone = 128;
constexpr uint64_t kPage = 4096;

struct Mapping { uint64_t start, end; };

// Writable memory, adjacent mappings as one; `stackLow` gets the start of the
// mapping that holds `rsp` (0 if none does), `anonymous` the readable private
// anonymous mappings among them (no file: inode 0).
std::vector<Mapping> writableMappings(pid_t pid, uint64_t rsp, uint64_t& stackLow, std::vector<std::pair<uint64_t, uint64_t>>& anonymous) {
  std::vector<Mapping> out;
  stackLow = 0;
  std::string path = "/proc/" + std::to_string(pid) + "/maps";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) throw NativeError{errno, "open " + path};
  char line[4096];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long lo, hi, offset, inode = 1;
    unsigned major, minor;
    char perms[8];
    int fields = std::sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms, &offset, &major, &minor, &inode);
    if (fields < 3 || perms[1] != 'w') continue;
    if (rsp >= lo && rsp < hi) stackLow = lo;
    if (fields == 7 && inode == 0 && perms[0] == 'r' && perms[3] == 'p') anonymous.emplace_back(lo, hi);
    // Adjacent mappings as one: how the kernel splits memory into mappings differs
    // between the runs (a library's .data and .bss are a file mapping and an
    // anonymous one when recorded, one anonymous copy in replay) while the bytes at
    // each address are the same.
    if (!out.empty() && out.back().end == lo) out.back().end = hi;
    else out.push_back({lo, hi});
  }
  std::fclose(f);
  return out;
}

// The parts of [start, end) outside every excluded range.
std::vector<Mapping> without(Mapping m, const AddressRanges& excluded) {
  std::vector<Mapping> parts{m};
  for (auto [xs, xe] : excluded) {
    std::vector<Mapping> next;
    for (Mapping p : parts) {
      if (xe <= p.start || xs >= p.end) { next.push_back(p); continue; }
      if (xs > p.start) next.push_back({p.start, xs});
      if (xe < p.end) next.push_back({xe, p.end});
    }
    parts.swap(next);
  }
  return parts;
}

// The program's x87, SSE and AVX registers, the same on another CPU with the same values:
// the legacy area without MXCSR_MASK and the kernel's software bytes (both describe
// the machine), then each non-zero 64-byte block of the extended area with its
// offset (the non-compacted layout puts each component at an architectural offset;
// a component this CPU lacks reads as zeros, the value it has in init state).
void hashVectorState(XXH3_state_t* st, const uint8_t* x, size_t n) {
  constexpr size_t kMxcsrMask = 28, kSoftwareBytes = 464;
  XXH3_128bits_update(st, x, std::min(n, kMxcsrMask));
  if (n > kMxcsrMask + 4) XXH3_128bits_update(st, x + kMxcsrMask + 4, std::min(n, kSoftwareBytes) - kMxcsrMask - 4);
  static const uint8_t zero[64] = {};
  for (size_t at = kLegacyArea + kXsaveHeader; at + 64 <= n; at += 64) {
    if (std::memcmp(x + at, zero, 64) == 0) continue;
    uint64_t where = at;
    XXH3_128bits_update(st, &where, sizeof where);
    XXH3_128bits_update(st, x + at, 64);
  }
}

// Hashes [a, a + len) of process pid as one process_vm_readv of it would read it: the
// bytes up to the first unreadable one, then how many there were. Untouched
// anonymous pages are hashed as the zeros they read as, without copying them out
// (in runs, so that the byte stream and the hash are those of the one read).
void hashRange(XXH3_state_t* st, pid_t pid, uint64_t a, size_t len, uint8_t* buf, UntouchedPages& untouched) {
  static const uint8_t kZeros[64 << 10] = {};
  const uint64_t end = a + len;
  size_t have = 0;
  uint64_t at = a;
  while (at < end) {
    uint64_t page = at & ~(kPage - 1);
    bool zero = untouched.untouched(page);
    uint64_t runEnd = std::min(end, page + kPage);
    while (runEnd < end && untouched.untouched(runEnd) == zero) runEnd = std::min(end, runEnd + kPage);
    size_t n = size_t(runEnd - at);
    if (zero) {
      for (size_t done = 0; done < n; done += sizeof kZeros) XXH3_128bits_update(st, kZeros, std::min(sizeof kZeros, n - done));
      have += n;
      at = runEnd;
      continue;
    }
    struct iovec local = {buf, n}, remote = {(void*)at, n};
    ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    // An unreadable tail (past a file's end: SIGBUS natively) reads as absent,
    // the same way in both runs.
    size_t read = got > 0 ? size_t(got) : 0;
    XXH3_128bits_update(st, buf, read);
    have += read;
    if (read < n) break;
    at = runEnd;
  }
  XXH3_128bits_update(st, &have, sizeof have);
}

}  // namespace

StateHash stateHash(pid_t pid, const AddressRanges& excluded) {
  XXH3_state_t* st = XXH3_createState();
  if (!st) throw NativeError{ENOMEM, "XXH3_createState"};
  XXH3_128bits_reset(st);
  std::vector<uint8_t> xsave(kXsaveMax, 0);
  struct iovec xv = {xsave.data(), xsave.size()};
  if (ptrace(PTRACE_GETREGSET, pid, (void*)NT_X86_XSTATE, &xv) != 0) {
    XXH3_freeState(st);
    throw NativeError{errno, "ptrace(PTRACE_GETREGSET, NT_X86_XSTATE)"};
  }
  hashVectorState(st, xsave.data(), std::min(xv.iov_len, xsave.size()));
  // (not zero-filled: a megabyte's memset at every hash, and only what a read filled is hashed)
  std::unique_ptr<uint8_t[]> buf(new uint8_t[kChunk]);
  uint64_t rsp = getRegs(pid).rsp, stackLow = 0;
  std::vector<std::pair<uint64_t, uint64_t>> anonymous;
  std::vector<Mapping> mappings = writableMappings(pid, rsp, stackLow, anonymous);
  // REWIND_HASH_READ_ALL: every page read, as before untouched pages were known (to
  // compare: the hash must come out the same)
  static const bool readAll = std::getenv("REWIND_HASH_READ_ALL") != nullptr;
  if (readAll) anonymous.clear();
  UntouchedPages untouched(pid, std::move(anonymous));
  // The stack below the red zone is dead (the ABI gives it to signal frames and
  // callees): it is left out, because the kernel writes signal frames there whose
  // trapno, err and cr2 are the thread's last trap, which the tracer's own traps
  // change (a replay single-steps where the recording faulted on an rdtsc). Two
  // states that differ only there have the same future unless the program reads
  // stack it has not written.
  AddressRanges all = excluded;
  if (stackLow && rsp - kRedZone > stackLow) all.emplace_back(stackLow, rsp - kRedZone);
  for (Mapping m : mappings) {
    for (Mapping part : without(m, all)) {
      // Where it is: the same bytes at another address are another state.
      XXH3_128bits_update(st, &part, sizeof part);
      for (uint64_t a = part.start; a < part.end; a += kChunk) {
        hashRange(st, pid, a, size_t(std::min<uint64_t>(kChunk, part.end - a)), buf.get(), untouched);
      }
    }
  }
  XXH128_hash_t h = XXH3_128bits_digest(st);
  XXH3_freeState(st);
  return StateHash{h.low64, h.high64};
}

}  // namespace rw
