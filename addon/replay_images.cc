// Map-file events of known ELF images, replayed natively: see replay_images.h.
#include "replay_images.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/syscall.h>

#include <cstdlib>
#include <map>

#include "event_json.h"
#include "ptrace_ops.h"
#include "record_images.h"
#include "stub_layout.h"
#include "tracer_thread.h"

namespace rw {

namespace {

struct Image {
  std::string path;
  KnownImage cpuid;  // its sites, as the record loop keeps them (record_images.h)
};

// Only the tracer thread reads or writes it (replayKnowImage runs as a job).
std::map<std::string, Image> knownImages;
constexpr uint64_t kPage = 4096;
constexpr size_t kScratchBytes = 0x400;  // kStubScratch to the end of the stub's page

}  // namespace

// event_json.h
bool field(const std::string& json, const char* key, std::string& out) {
  std::string k = std::string("\"") + key + "\":";
  size_t at = json.find(k);
  if (at == std::string::npos) return false;
  at += k.size();
  if (at < json.size() && json[at] == '"') {
    size_t end = json.find('"', at + 1);
    if (end == std::string::npos) return false;
    out = json.substr(at + 1, end - at - 1);
    return true;
  }
  size_t end = json.find_first_of(",}", at);
  if (end == std::string::npos) return false;
  out = json.substr(at, end - at);
  return true;
}

bool number(const std::string& s, int base, uint64_t& out) {
  if (s.empty()) return false;
  const char* start = s.c_str();
  if (base == 16) {
    if (s.size() < 3 || s[0] != '0' || s[1] != 'x') return false;
    start += 2;
  }
  char* end = nullptr;
  out = std::strtoull(start, &end, base);
  return end && *end == 0;
}

void replayKnowImage(const std::string& sha, const std::string& path, bool patch, const std::vector<uint64_t>& sites) {
  Image& image = knownImages[sha];
  image.path = path;
  image.cpuid.sha = sha;
  image.cpuid.patch = patch;
  image.cpuid.sites = sites;
}

bool replayKnownImageMap(pid_t pid, CpuidState& cpuid, const RecordView& v) {
  if (knownImages.empty() || v.n <= 12) return false;
  std::string json(reinterpret_cast<const char*>(v.p) + 12, v.n - 12);
  std::string sha, addrS, lengthS, offsetS, protS, sizeS, ignored;
  // a data file or shared memory ("file") is an emulated file: JS's
  if (field(json, "file", ignored) || !field(json, "sha", sha)) return false;
  auto known = knownImages.find(sha);
  if (known == knownImages.end()) return false;
  uint64_t addr, mapLength, offset, prot, size;
  if (!field(json, "addr", addrS) || !field(json, "length", lengthS) || !field(json, "offset", offsetS) ||
      !field(json, "prot", protS) || !field(json, "size", sizeS) || !number(addrS, 16, addr) ||
      !number(lengthS, 16, mapLength) || !number(offsetS, 16, offset) || !number(protS, 10, prot) ||
      !number(sizeS, 10, size))
    return false;
  const std::string& path = known->second.path;
  if (size && (addr % kPage || offset % kPage || path.size() + 1 > kScratchBytes)) return false;
  if (size && mapTraceFile(pid, kStubSyscall, kStubScratch, path, addr, (size + kPage - 1) / kPage * kPage, prot, offset) !=
                  int64_t(addr))
    return false;
  // (size 0: nothing of the file is mapped; the placeholder is it)
  if (known->second.cpuid.patch) patchImageSites(pid, cpuid, known->second.cpuid, addr, mapLength, offset, prot);
  return true;
}

namespace {

// openat, mmap and close run by the stub's routine (kStubMapFile) in one resume: one
// stop where three injected calls took three (a make's replay maps ~700 images).
// Returns the mmap's result, or the openat's error.
int64_t mapInStub(pid_t pid, uint64_t scratch, uint64_t addr, uint64_t length, uint64_t prot, uint64_t offset) {
  user_regs_struct saved = getRegs(pid), r = saved;
  r.rax = SYS_openat;
  r.orig_rax = uint64_t(-1);  // no syscall restart logic on the way out of the current stop
  r.rdi = uint64_t(AT_FDCWD);
  r.rsi = scratch;
  r.rdx = O_RDONLY | O_CLOEXEC;
  r.r12 = addr;
  r.r13 = length;
  r.r14 = prot;
  r.rbx = MAP_PRIVATE | MAP_FIXED;
  r.r15 = offset;
  r.rip = kStubMapFile;
  setRegs(pid, r);
  // a SIGSTOP still pending (a slice's or an interrupt's) is reported first: swallowed,
  // as injectSyscall does. So is a seccomp stop at one of the routine's calls, as
  // injectSyscall goes on past one: none comes today (a replayed process never has
  // PTRACE_O_TRACESECCOMP, addon/replay_processes.cc, so the kernel reports no
  // seccomp stop of it, and replay annuls the syscall buffer's seccomp call, so it has
  // no filter of the recording's), but the routine must not take one for its end.
  Stop s;
  for (int tries = 0; tries < 8; tries++) {
    resume(pid, PTRACE_CONT, 0);
    s = waitStop(pid);
    bool again = (s.kind == Stop::kSignal && s.sig == SIGSTOP) || (s.kind == Stop::kEvent && s.event == PTRACE_EVENT_SECCOMP);
    if (!again) break;
  }
  if (s.kind != Stop::kSignal || s.sig != SIGTRAP) {
    throw NativeError{EPROTO, "the replay stub's file mapping did not end at its int3 (stop kind " +
                                  std::to_string(s.kind) + ", signal " + std::to_string(s.sig) + ")"};
  }
  int64_t result = int64_t(getRegs(pid).rax);
  setRegs(pid, saved);
  return result;
}

}  // namespace

int64_t mapTraceFile(pid_t pid, uint64_t insn, uint64_t scratch, const std::string& path, uint64_t addr, uint64_t length,
                     uint64_t prot, uint64_t offset) {
  writeMemory(pid, scratch, path.c_str(), path.size() + 1);
  if (insn == kStubSyscall) return mapInStub(pid, scratch, addr, length, prot, offset);
  uint64_t open[6] = {uint64_t(AT_FDCWD), scratch, O_RDONLY | O_CLOEXEC, 0, 0, 0};
  int64_t fd = injectSyscall(pid, insn, SYS_openat, open);
  if (fd < 0) return fd;
  uint64_t map[6] = {addr, length, prot, MAP_PRIVATE | MAP_FIXED, uint64_t(fd), offset};
  int64_t r = injectSyscall(pid, insn, SYS_mmap, map);
  uint64_t close[6] = {uint64_t(fd), 0, 0, 0, 0, 0};
  injectSyscall(pid, insn, SYS_close, close);
  return r;
}

}  // namespace rw
