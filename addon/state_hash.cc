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
#include <cstring>
#include <string>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ptrace_ops.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr size_t kLegacyArea = 512;   // FXSAVE layout: x87, MXCSR, XMM0-15
constexpr size_t kXsaveHeader = 64;   // XSTATE_BV/XCOMP_BV: which components are in init state
constexpr size_t kXsaveMax = 1 << 14;
constexpr size_t kChunk = 1 << 20;
constexpr uint64_t kRedZone = 128;

struct Mapping { uint64_t start, end; };

// Writable memory, adjacent mappings as one; `stackLow` gets the start of the
// mapping that holds `rsp` (0 if none does).
std::vector<Mapping> writableMappings(pid_t pid, uint64_t rsp, uint64_t& stackLow) {
  std::vector<Mapping> out;
  stackLow = 0;
  std::string path = "/proc/" + std::to_string(pid) + "/maps";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) throw NativeError{errno, "open " + path};
  char line[4096];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char perms[8];
    if (std::sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[1] != 'w') continue;
    if (rsp >= lo && rsp < hi) stackLow = lo;
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
  std::vector<uint8_t> buf(kChunk);
  uint64_t rsp = getRegs(pid).rsp, stackLow = 0;
  std::vector<Mapping> mappings = writableMappings(pid, rsp, stackLow);
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
        size_t len = size_t(std::min<uint64_t>(kChunk, part.end - a));
        struct iovec local = {buf.data(), len}, remote = {(void*)a, len};
        ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        // An unreadable tail (past a file's end: SIGBUS natively) reads as absent,
        // the same way in both runs.
        size_t have = got > 0 ? size_t(got) : 0;
        XXH3_128bits_update(st, buf.data(), have);
        XXH3_128bits_update(st, &have, sizeof have);
      }
    }
  }
  XXH128_hash_t h = XXH3_128bits_digest(st);
  XXH3_freeState(st);
  return StateHash{h.low64, h.high64};
}

}  // namespace rw
