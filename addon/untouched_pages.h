// Pages of a stopped process that read as zeros without being read: private
// anonymous memory it never touched (/proc/PID/pagemap: neither present nor
// swapped). The state hash (state_hash.cc) feeds zeros for them instead of copying
// them out of the process: the same bytes, so the same hash, and the same names of
// points as traces recorded before. In threads_cpu most of a point's ~35 MB of
// writable memory is the workers' untouched 8 MB stacks (docs/replay-speed.md).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace rw {

class UntouchedPages {
 public:
  // `anonymous`: the process's readable and writable private anonymous mappings
  // ([start, end) pairs, page aligned): only there is an absent page known to read
  // as zeros (a file's page may be absent and hold data).
  UntouchedPages(pid_t pid, std::vector<std::pair<uint64_t, uint64_t>> anonymous);
  ~UntouchedPages();
  UntouchedPages(const UntouchedPages&) = delete;
  UntouchedPages& operator=(const UntouchedPages&) = delete;

  // Whether the page at `page` (aligned) is untouched anonymous memory. Pages are
  // asked in ascending order mostly; the pagemap is read a window at a time. Any
  // failure to read the pagemap answers false (the page is then read).
  bool untouched(uint64_t page);

 private:
  bool anonymous(uint64_t page) const;
  int fd_ = -1;
  std::vector<std::pair<uint64_t, uint64_t>> anonymous_;
  uint64_t windowStart_ = 0;   // first page of the pagemap entries in window_
  std::vector<uint64_t> window_;
};

}  // namespace rw
