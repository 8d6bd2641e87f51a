// Untouched anonymous pages of a stopped process: see untouched_pages.h.
#include "untouched_pages.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace rw {
namespace {

constexpr uint64_t kPage = 4096;
// pagemap entries read at once: 2 MiB of address space
constexpr size_t kWindowPages = 512;
// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst)
constexpr uint64_t kPresent = 1ull << 63, kSwapped = 1ull << 62;

}  // namespace

UntouchedPages::UntouchedPages(pid_t pid, std::vector<std::pair<uint64_t, uint64_t>> anonymous)
    : anonymous_(std::move(anonymous)) {
  std::sort(anonymous_.begin(), anonymous_.end());
  if (!anonymous_.empty()) fd_ = open(("/proc/" + std::to_string(pid) + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC);
}

UntouchedPages::~UntouchedPages() {
  if (fd_ >= 0) close(fd_);
}

bool UntouchedPages::anonymous(uint64_t page) const {
  auto it = std::upper_bound(anonymous_.begin(), anonymous_.end(), std::make_pair(page, UINT64_MAX));
  return it != anonymous_.begin() && page < std::prev(it)->second;
}

bool UntouchedPages::untouched(uint64_t page) {
  if (fd_ < 0 || !anonymous(page)) return false;
  uint64_t index = page / kPage;
  if (index < windowStart_ || index >= windowStart_ + window_.size()) {
    window_.assign(kWindowPages, 0);
    ssize_t got = pread(fd_, window_.data(), kWindowPages * sizeof(uint64_t), off_t(index * sizeof(uint64_t)));
    window_.resize(got > 0 ? size_t(got) / sizeof(uint64_t) : 0);
    windowStart_ = index;
    if (window_.empty()) return false;
  }
  uint64_t entry = window_[index - windowStart_];
  return (entry & (kPresent | kSwapped)) == 0;
}

}  // namespace rw
