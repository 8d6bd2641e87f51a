#include "cpuid_emulation.h"

#include <errno.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "js_args.h"
#include "tracer_thread.h"

namespace rw {
namespace {

constexpr uint8_t kCpuid[2] = {0x0f, 0xa2};
constexpr uint8_t kUd2[2] = {0x0f, 0x0b};
constexpr int kNrArchPrctl = 158;
constexpr uint64_t kArchSetCpuid = 0x1012;

enum How : uint32_t { kPatchedSite = 0, kFaulted = 1 };

using Answer = CpuidAnswer;

// Leaves whose answer depends on ECX (the subleaf); for the others ECX is ignored.
bool hasSubleaves(uint32_t leaf) {
  switch (leaf) {
    case 0x4: case 0x7: case 0xb: case 0xd: case 0xf: case 0x10: case 0x12: case 0x14: case 0x17: case 0x18:
    case 0x1a: case 0x1b: case 0x1d: case 0x1e: case 0x1f: case 0x20: case 0x23: case 0x24:
    case 0x8000001d: case 0x80000020: case 0x80000026:
      return true;
    default:
      return false;
  }
}

uint64_t keyOf(uint32_t leaf, uint32_t subleaf) {
  return uint64_t(leaf) << 32 | (hasSubleaves(leaf) ? subleaf : 0);
}

// The answer from a table: a leaf or subleaf the table does not hold answers zeros
// (what a CPU answers past its last subleaf; the topology leaves echo the level).
Answer lookup(const std::map<uint64_t, Answer>& t, uint32_t leaf, uint32_t subleaf) {
  auto it = t.find(keyOf(leaf, subleaf));
  if (it != t.end()) return it->second;
  Answer z{0, 0, 0, 0};
  if (leaf == 0xb || leaf == 0x1f) {
    z.c = subleaf & 0xff;
    auto first = t.find(keyOf(leaf, 0));
    if (first != t.end()) z.d = first->second.d;
  }
  return z;
}

Answer live(uint32_t leaf, uint32_t subleaf) {
  Answer r;
  hostCpuid(leaf, subleaf, r.a, r.b, r.c, r.d);
  return r;
}

// This CPU's answer to a recorded program's CPUID, asked once per leaf and subleaf:
// in a VM every CPUID exits to the hypervisor (~6 us here), and a make's 26
// processes ask the same ~70 questions each (ld.so's cache and feature probes).
// The tracer thread is pinned to one CPU, so even the per-CPU fields (the APIC ID
// in leaves 1, 0xb and 0x1f) are what asking again would answer.
Answer liveOnce(uint32_t leaf, uint32_t subleaf) {
  thread_local std::map<uint64_t, Answer> asked;
  uint64_t key = uint64_t(leaf) << 32 | subleaf;
  auto it = asked.find(key);
  if (it != asked.end()) return it->second;
  return asked[key] = live(leaf, subleaf);
}

bool bytesAre(pid_t pid, uint64_t addr, const uint8_t want[2]) {
  uint8_t b[2] = {0, 0};
  return readMemory(pid, addr, b, 2) == 2 && b[0] == want[0] && b[1] == want[1];
}

// The program's CPUID at this stop, if it is one: a patched site's SIGILL or a
// faulting CPUID's SIGSEGV (si_code SI_KERNEL, like a trapped rdtsc).
bool isCpuidStop(pid_t pid, const CpuidState& state, int sig, int siCode, uint64_t rip, How& how) {
  if (sig == SIGILL && state.sites.count(rip) && bytesAre(pid, rip, kUd2)) {
    how = kPatchedSite;
    return true;
  }
  if (sig == SIGSEGV && siCode == SI_KERNEL && bytesAre(pid, rip, kCpuid)) {
    how = kFaulted;
    return true;
  }
  return false;
}

void answerInRegisters(pid_t pid, user_regs_struct& r, const Answer& x) {
  r.rax = x.a;  // CPUID zero-extends into the 64-bit registers
  r.rbx = x.b;
  r.rcx = x.c;
  r.rdx = x.d;
  r.rip += 2;
  setRegs(pid, r);
}

// Runs one syscall in the stopped tracee through a `syscall` written over the
// instruction at rip for the moment (right after an exec no other is known).
int64_t injectAtPc(pid_t pid, int64_t nr, const uint64_t args[6]) {
  uint64_t pc = getRegs(pid).rip;
  uint8_t saved[2];
  if (readMemory(pid, pc, saved, 2) != 2) throw NativeError{EFAULT, "no code at the tracee's pc"};
  writeMemory(pid, pc, "\x0f\x05", 2);
  int64_t result;
  try {
    result = injectSyscall(pid, pc, nr, args);
  } catch (...) {
    writeMemory(pid, pc, saved, 2);
    throw;
  }
  writeMemory(pid, pc, saved, 2);
  return result;
}

// ---- the full dump of this CPU's leaves -------------------------------------------------

using Row = std::array<uint32_t, 6>;

void addLeaf(std::vector<Row>& out, uint32_t leaf, uint32_t subleaf) {
  Answer x = live(leaf, subleaf);
  out.push_back({leaf, subleaf, x.a, x.b, x.c, x.d});
}

// How many subleaves to store for an indexed leaf: up to and including the first
// empty one, or as many as subleaf 0 announces.
void addSubleaves(std::vector<Row>& out, uint32_t leaf) {
  Answer first = live(leaf, 0);
  uint32_t count = 1;
  switch (leaf) {
    case 0x4: case 0x8000001d:  // cache levels until type 0
      for (count = 0; count < 16 && (live(leaf, count).a & 0x1f); count++) {}
      count++;
      break;
    case 0xb: case 0x1f:  // topology levels until type 0
      for (count = 0; count < 8 && (live(leaf, count).c & 0xff00); count++) {}
      count++;
      break;
    case 0xd: count = 64; break;  // one per XSAVE state component
    case 0xf: case 0x10: case 0x80000020: case 0x80000026: count = 4; break;
    case 0x12: count = 8; break;
    case 0x1a: case 0x1b: case 0x1e: count = 2; break;
    default: count = std::min<uint32_t>(first.a, 15) + 1; break;  // 7, 0x14, 0x17, 0x18, 0x1d, 0x20, 0x23, 0x24
  }
  for (uint32_t s = 0; s < count; s++) {
    Answer x = live(leaf, s);
    // trailing XSAVE components this CPU lacks are all zero: leave them out
    if (leaf == 0xd && s > 1 && !x.a && !x.b && !x.c && !x.d) continue;
    out.push_back({leaf, s, x.a, x.b, x.c, x.d});
  }
}

std::vector<Row> dumpLeaves() {
  std::vector<Row> out;
  uint32_t maxBasic = live(0, 0).a;
  for (uint32_t l = 0; l <= std::min<uint32_t>(maxBasic, 0x3f); l++) {
    if (hasSubleaves(l)) addSubleaves(out, l);
    else addLeaf(out, l, 0);
  }
  uint32_t maxHv = live(0x40000000, 0).a;
  if (maxHv >= 0x40000000 && maxHv < 0x40000100)
    for (uint32_t l = 0x40000000; l <= std::min<uint32_t>(maxHv, 0x40000010); l++) addLeaf(out, l, 0);
  uint32_t maxExt = live(0x80000000, 0).a;
  if (maxExt >= 0x80000000 && maxExt < 0x80000100)
    for (uint32_t l = 0x80000000; l <= std::min<uint32_t>(maxExt, 0x80000040); l++) {
      if (hasSubleaves(l)) addSubleaves(out, l);
      else addLeaf(out, l, 0);
    }
  return out;
}

uint64_t readXcr0() {
  if (!(live(1, 0).c & (1u << 27))) return 0;  // OSXSAVE: xgetbv is allowed
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return uint64_t(hi) << 32 | lo;
}

// ---- JS surface -------------------------------------------------------------------------

using Napi::CallbackInfo;
using Napi::Value;

Value CpuidDump(const CallbackInfo& info) {
  const char* usage = "cpuidDump(): { leaves: [leaf, subleaf, eax, ebx, ecx, edx][], xcr0: bigint } on the tracer's CPU";
  USAGE_CHECK(info.Length() == 0, usage);
  return submitToTracer(info.Env(), usage, [] {
    auto rows = std::make_shared<std::vector<Row>>(dumpLeaves());
    uint64_t xcr0 = readXcr0();
    Outcome o;
    o.build = [rows, xcr0](Napi::Env env) {
      Napi::Array leaves = Napi::Array::New(env, rows->size());
      for (size_t i = 0; i < rows->size(); i++) {
        Napi::Array r = Napi::Array::New(env, 6);
        for (uint32_t k = 0; k < 6; k++) r.Set(k, Napi::Number::New(env, (*rows)[i][k]));
        leaves.Set(uint32_t(i), r);
      }
      Napi::Object out = Napi::Object::New(env);
      out.Set("leaves", leaves);
      out.Set("xcr0", Napi::BigInt::New(env, xcr0));
      return out;
    };
    return o;
  });
}

}  // namespace

bool cpuidRecordTrap(pid_t pid, const CpuidState& state, int sig, const siginfo_t& si, RecordWriter& w) {
  if (sig != SIGILL && sig != SIGSEGV) return false;
  user_regs_struct r = getRegs(pid);
  How how;
  if (!isCpuidStop(pid, state, sig, si.si_code, r.rip, how)) return false;
  uint32_t leaf = uint32_t(r.rax), subleaf = uint32_t(r.rcx);
  Answer x = state.answers ? lookup(*state.answers, leaf, subleaf) : liveOnce(leaf, subleaf);
  answerInRegisters(pid, r, x);
  size_t start = w.begin(kEvCpuid, 0, uint32_t(pid));
  w.u32(leaf);
  w.u32(subleaf);
  w.u32(x.a);
  w.u32(x.b);
  w.u32(x.c);
  w.u32(x.d);
  w.u32(how);
  w.end(start);
  return true;
}

void cpuidReleaseChild(const CpuidState& parent, pid_t child, bool sharesMemory, uint64_t insnAddr) {
  if (parent.faulting) {
    uint64_t args[6] = {kArchSetCpuid, 1, 0, 0, 0, 0};
    injectSyscall(child, insnAddr, kNrArchPrctl, args);
  }
  if (!sharesMemory)
    for (uint64_t a : parent.sites)
      if (bytesAre(child, a, kUd2)) writeMemory(child, a, kCpuid, 2);
}

std::string cpuidReplayEvent(pid_t pid, const CpuidState& state, const Stop& st, const RecordView& v) {
  uint32_t leaf = v.get32(12), subleaf = v.get32(16);
  Answer x{v.get32(20), v.get32(24), v.get32(28), v.get32(32)};
  if (st.kind != Stop::kSignal) return "not a CPUID instruction";
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  ptrace(PTRACE_GETSIGINFO, pid, nullptr, &si);
  user_regs_struct r = getRegs(pid);
  How how;
  char buf[160];
  if (!isCpuidStop(pid, state, st.sig, si.si_code, r.rip, how)) {
    std::snprintf(buf, sizeof buf, "signal %d at 0x%llx, not at a CPUID instruction", st.sig, (unsigned long long)r.rip);
    return buf;
  }
  uint32_t gotLeaf = uint32_t(r.rax), gotSub = uint32_t(r.rcx);
  if (gotLeaf != leaf || (hasSubleaves(leaf) && gotSub != subleaf)) {
    std::snprintf(buf, sizeof buf, "cpuid leaf 0x%x subleaf 0x%x", gotLeaf, gotSub);
    return buf;
  }
  answerInRegisters(pid, r, x);
  return "";
}

bool cpuidAnswersFrom(const Napi::Value& rows, std::shared_ptr<const std::map<uint64_t, CpuidAnswer>>& out) {
  if (rows.IsNull()) {
    out = nullptr;
    return true;
  }
  if (!rows.IsArray()) return false;
  auto table = std::make_shared<std::map<uint64_t, Answer>>();
  Napi::Array a = rows.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    if (!(a.Get(i).IsArray() && a.Get(i).As<Napi::Array>().Length() == 6)) return false;
    Napi::Array r = a.Get(i).As<Napi::Array>();
    uint32_t v[6];
    for (uint32_t k = 0; k < 6; k++) {
      if (!r.Get(k).IsNumber()) return false;
      v[k] = r.Get(k).As<Napi::Number>().Uint32Value();
    }
    (*table)[keyOf(v[0], v[1])] = Answer{v[2], v[3], v[4], v[5]};
  }
  out = table;
  return true;
}

bool cpuidEnableFaulting(pid_t pid, CpuidState& state) {
  uint64_t args[6] = {kArchSetCpuid, 0, 0, 0, 0, 0};
  bool on = injectAtPc(pid, kNrArchPrctl, args) == 0;
  state.faulting = on;
  return on;
}

int cpuidPatch(pid_t pid, CpuidState& state, uint64_t start, uint64_t end, const std::vector<uint64_t>& sites) {
  state.sites.erase(state.sites.lower_bound(start), state.sites.lower_bound(end));
  int patched = 0;
  for (uint64_t a : sites) {
    if (a < start || a + 2 > end || !bytesAre(pid, a, kCpuid)) continue;
    writeMemory(pid, a, kUd2, 2);
    state.sites.insert(a);
    patched++;
  }
  return patched;
}

void cpuidHidePatches(const CpuidState& state, uint64_t addr, uint8_t* data, size_t len) {
  if (len == 0) return;
  auto& sites = state.sites;
  for (auto s = sites.lower_bound(addr > 0 ? addr - 1 : 0); s != sites.end() && *s < addr + len; ++s) {
    uint64_t second = *s + 1;  // ud2 and cpuid share their first byte
    if (second >= addr && second < addr + len) data[second - addr] = kCpuid[1];
  }
}

void cpuidAfterWrite(pid_t pid, CpuidState& state, uint64_t addr, size_t len) {
  if (len == 0) return;
  auto& sites = state.sites;
  for (auto s = sites.lower_bound(addr > 0 ? addr - 1 : 0); s != sites.end() && *s < addr + len;) {
    if (bytesAre(pid, *s, kCpuid)) writeMemory(pid, *s, kUd2, 2);  // the original put back: still ours
    if (bytesAre(pid, *s, kUd2)) ++s;
    else s = sites.erase(s);  // other code written there
  }
}

void registerCpuidExports(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuidDump", Napi::Function::New(env, CpuidDump));
}

}  // namespace rw
