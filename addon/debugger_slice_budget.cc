// The memory a run's copies may hold (debugger.h, kRunCopiesBytes). A copy shares
// its pages with the process until one of them writes a page; a program that
// rewrites its heap leaves each copy holding its own version of it. A forward
// continue over 60 memsets of 256 MiB took a copy every 25 ms and the machine's
// memory went (12 GB in 40 s) before the run ended and the store of checkpoints
// could drop any. Over the budget, every other copy goes and the slices that follow
// come half as often: the copies stay spread over the whole run, as many as the
// budget allows. The resident size counts shared pages too, so the bound is safe.
//
// Copies also cost time: the fork copies the page tables (17-24 ms for 256 MiB
// here), and every page the program writes afterwards while a copy shares it is
// copied at the write (about 5 us a page on this VM: a memset of 256 MiB took
// 370-450 ms after a fork against 60-90 ms without). A copy every 25 ms of such a
// program made its forward continue 15 times slower. So after each copy the next
// ones are spaced at least 8 times what the last one cost (its fork, by the
// resident size, and the pages copied since the one before, by the process's minor
// faults: an overestimate, as first touches of new memory count too), halving how
// often they come as needed.
// A copy that cost under 2 ms changes nothing.
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "debugger.h"
#include "proc_stat.h"

namespace rw {

uint64_t residentPages(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/statm", int(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  int got = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident : 0;
}

// The run's later slices come half as often: every other one of them is dropped.
static void halveSchedule(std::vector<uint64_t>& sliceAt) {
  std::vector<uint64_t> later;
  for (size_t i = 1; i < sliceAt.size(); i += 2) later.push_back(sliceAt[i]);
  sliceAt.swap(later);
}

uint64_t SliceCopies::heldBytes() const {
  uint64_t sum = 0;
  for (uint64_t b : bytes) sum += b;
  return sum;
}

void SliceCopies::thin(std::vector<uint64_t>& sliceAt) {
  const size_t n = copies.size();
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) {
    if ((n - 1 - i) % 2 != 0) {
      copies[i].reset();  // the last reference: the copy is killed
      threads[i].clear();
      continue;
    }
    infos[kept] = std::move(infos[i]);
    copies[kept] = std::move(copies[i]);
    threads[kept] = std::move(threads[i]);
    bytes[kept] = bytes[i];
    kept++;
  }
  infos.resize(kept);
  copies.resize(kept);
  threads.resize(kept);
  bytes.resize(kept);
  halveSchedule(sliceAt);
}

// the cost of copying one page at a write after a fork, and of a fork per resident
// page (its page tables), on the VMs measured (ns). Estimated from counts rather
// than timed, so that load, which stretches the fork's wall time, does not change
// where the copies go.
constexpr uint64_t kCopyOnWriteNs = 5000;
constexpr uint64_t kForkPerPageNs = 250;
// copies cheaper than this are taken as planned: a small process forks in well
// under a millisecond, and the narrowing runs of a reverse search place theirs 1,
// 2, 4 ... ms apart on purpose
constexpr uint64_t kCheapCopyNs = 2000000;

void Debugger::spaceSlices(uint64_t residentPages) {
  const uint64_t faults = procStatField(tracee->pid, 10);  // minflt
  uint64_t cost = residentPages * kForkPerPageNs;
  if (faultsAtSlice && faults > faultsAtSlice) cost += (faults - faultsAtSlice) * kCopyOnWriteNs;
  faultsAtSlice = faults;
  if (!spreadSlices || cost < kCheapCopyNs) return;
  while (sliceAt.size() >= 2 && sliceAt[1] - sliceAt[0] < 8 * cost) halveSchedule(sliceAt);
}

}  // namespace rw
