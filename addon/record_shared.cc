// Shared memory the program's children write: see record_shared.h.
#include "record_shared.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "ptrace_ops.h"

namespace rw {
namespace {

// The writable shared mappings, keeping the copies of those that are unchanged.
void rescan(pid_t pid, Session& s) {
  std::map<uint64_t, std::vector<uint8_t>> old;
  for (Region& r : s.shared) old[r.start] = std::move(r.bytes);
  s.shared.clear();
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/maps").c_str(), "r");
  if (!f) return;
  char line[1024];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long start, end;
    char perms[5] = {0};
    if (std::sscanf(line, "%llx-%llx %4s", &start, &end, perms) != 3 || perms[1] != 'w' || perms[3] != 's') continue;
    Region r{start, {}};
    auto it = old.find(start);
    if (it != old.end() && it->second.size() == end - start) {
      r.bytes = std::move(it->second);
    } else {
      r.bytes.resize(end - start);  // new since the last look: its contents are the baseline
      r.bytes.resize(readMemory(pid, start, r.bytes.data(), r.bytes.size()));
    }
    s.shared.push_back(std::move(r));
  }
  std::fclose(f);
  s.sharedMapsChanged = false;
}

}  // namespace

void watchSharedMemory(pid_t pid, Session& s) {
  s.watchingShared = true;
  s.sharedMapsChanged = true;
  rescan(pid, s);
}

uint32_t appendSharedChanges(pid_t pid, Session& s, RecordWriter& w) {
  if (!s.watchingShared) return 0;
  if (s.sharedMapsChanged) rescan(pid, s);
  uint32_t n = 0;
  std::vector<uint8_t> now;
  for (Region& r : s.shared) {
    now.resize(r.bytes.size());
    now.resize(readMemory(pid, r.start, now.data(), now.size()));
    size_t len = std::min(now.size(), r.bytes.size());
    for (size_t i = 0; i < len;) {
      if (now[i] == r.bytes[i]) {
        i++;
        continue;
      }
      size_t j = i, last = i;
      while (j < len && j - last < 32) {
        if (now[j] != r.bytes[j]) last = j;
        j++;
      }
      w.u64(r.start + i);
      w.u32(uint32_t(last + 1 - i));
      w.bytes(now.data() + i, last + 1 - i);
      n++;
      i = last + 1;
    }
    r.bytes.swap(now);
  }
  return n;
}

}  // namespace rw
