#include "debug_loop.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>

#include "loop_result.h"
#include "ptrace_ops.h"
#include "replay_loop.h"
#include "tracer_thread.h"

namespace rw {

Napi::Object loopResultToJs(Napi::Env env, LoopResult& r);

namespace {

enum Mode { kCont = 0, kStep = 1, kRange = 2 };

// Debug register slot: type 0 = execute, 1 = write, 3 = read/write.
struct Slot {
  bool used = false;
  uint64_t addr = 0;
  int type = 0;
  int len = 1;
};

std::atomic<pid_t> interruptFor{0};  // an interrupt was asked for this tracee
std::atomic<pid_t> runningPid{0};    // the tracer thread is waiting for this tracee

constexpr size_t kDrOffset = offsetof(struct user, u_debugreg);

void pokeDr(pid_t pid, int i, uint64_t v) {
  if (ptrace(PTRACE_POKEUSER, pid, (void*)(kDrOffset + 8 * i), (void*)v) != 0)
    throw NativeError{errno, "ptrace(PTRACE_POKEUSER, debug register " + std::to_string(i) + ")"};
}

uint64_t peekDr(pid_t pid, int i) {
  errno = 0;
  long v = ptrace(PTRACE_PEEKUSER, pid, (void*)(kDrOffset + 8 * i), nullptr);
  if (errno) throw NativeError{errno, "ptrace(PTRACE_PEEKUSER, debug register " + std::to_string(i) + ")"};
  return uint64_t(v);
}

bool isSyscallInsn(pid_t pid, uint64_t pc) {
  uint8_t b[2] = {0, 0};
  return readMemory(pid, pc, b, 2) == 2 && b[0] == 0x0f && b[1] == 0x05;
}

DebugStop stopWith(const char* reason) {
  DebugStop d;
  d.info.reason = reason;
  return d;
}

struct Debugger : DebugHook {
  std::map<uint64_t, uint8_t> sw;  // software breakpoints: address -> original byte
  Slot slots[4];
  int mode = kCont;
  uint64_t start = 0, end = 0;
  bool fresh = false;     // the next runUserCode is the first of a resume asked for by JS
  bool stepDone = false;  // step modes: the current event completed an instruction

  uint64_t dr7() const {
    uint64_t v = 0;
    for (int i = 0; i < 4; i++) {
      if (!slots[i].used) continue;
      int lenBits = slots[i].len == 1 ? 0 : slots[i].len == 2 ? 1 : slots[i].len == 8 ? 2 : 3;
      v |= 1ull << (2 * i);
      v |= uint64_t(slots[i].type) << (16 + 4 * i);
      v |= uint64_t(slots[i].type == 0 ? 0 : lenBits) << (18 + 4 * i);
    }
    return v;
  }

  void writeDebugRegs(pid_t pid) {
    pokeDr(pid, 7, 0);
    for (int i = 0; i < 4; i++)
      if (slots[i].used) pokeDr(pid, i, slots[i].addr);
    uint64_t v = dr7();
    if (v) pokeDr(pid, 7, v);
  }

  // Continue the loop, hand the stop to the replay, or report a completed step.
  enum Verdict { kAgain, kReturn, kStepped };

  [[noreturn]] void report(pid_t pid, DebugStop d) { throw d; }

  Verdict classify(pid_t pid, const Stop& st, bool stepping) {
    if (st.kind != Stop::kSignal) return kReturn;
    if (st.sig == SIGSTOP) {  // sent by interrupt(); never part of a replay
      pid_t want = pid;
      if (interruptFor.compare_exchange_strong(want, 0)) throw stopWith("interrupted");
      return kAgain;
    }
    if (st.sig != SIGTRAP) return kReturn;
    siginfo_t si;
    std::memset(&si, 0, sizeof si);
    ptrace(PTRACE_GETSIGINFO, pid, nullptr, &si);
    if (si.si_code == SI_KERNEL) {  // int3
      user_regs_struct r = getRegs(pid);
      if (!sw.count(r.rip - 1)) return kReturn;  // the program's own int3
      r.rip -= 1;
      setRegs(pid, r);
      DebugStop d = stopWith("swbreak");
      d.info.big("pc", r.rip);
      throw d;
    }
    if (si.si_code == TRAP_HWBKPT || si.si_code == TRAP_TRACE) {
      uint64_t dr6 = peekDr(pid, 6);
      pokeDr(pid, 6, 0);
      for (int i = 0; i < 4; i++) {
        if (!(dr6 & (1ull << i)) || !slots[i].used) continue;
        DebugStop d = stopWith(slots[i].type == 0 ? "hwbreak" : "watch");
        d.info.num("slot", i);
        throw d;
      }
      if (stepping && si.si_code == TRAP_TRACE) return kStepped;
    }
    return kReturn;
  }

  // After a completed single step: keep going or stop.
  bool continueAfterStep(pid_t pid) {
    if (mode == kCont) return true;
    if (mode == kRange) {
      uint64_t pc = getRegs(pid).rip;
      if (pc >= start && pc < end && !sw.count(pc)) return true;
    }
    return false;
  }

  Stop waitFor(pid_t pid) {
    Stop st = waitStop(pid);
    runningPid.store(0);
    return st;
  }

  void resumeWatched(pid_t pid, int request, int& sig) {
    runningPid.store(pid);
    pid_t want = pid;
    if (interruptFor.compare_exchange_strong(want, 0)) {
      runningPid.store(0);
      throw stopWith("interrupted");
    }
    resume(pid, request, sig);
    sig = 0;
  }

  // Executes the instruction at pc with any breakpoint there lifted.
  Stop stepOver(pid_t pid, uint64_t pc, int& sig, bool& overSyscall) {
    bool hadSw = sw.count(pc) > 0;
    if (hadSw) writeMemory(pid, pc, &sw[pc], 1);
    uint64_t full = dr7(), masked = full;
    for (int i = 0; i < 4; i++)
      if (slots[i].used && slots[i].type == 0 && slots[i].addr == pc) masked &= ~(1ull << (2 * i));
    if (masked != full) pokeDr(pid, 7, masked);
    overSyscall = isSyscallInsn(pid, pc);
    Stop st;
    try {
      resumeWatched(pid, overSyscall ? PTRACE_SYSCALL : PTRACE_SINGLESTEP, sig);
      st = waitFor(pid);
    } catch (...) {
      if (hadSw) writeMemory(pid, pc, "\xcc", 1);
      if (masked != full) pokeDr(pid, 7, full);
      throw;
    }
    if (st.kind != Stop::kExited && st.kind != Stop::kKilled) {
      if (hadSw) writeMemory(pid, pc, "\xcc", 1);
      if (masked != full) pokeDr(pid, 7, full);
    }
    return st;
  }

  Stop runUserCode(pid_t pid, int& sig) override {
    if (fresh) {
      fresh = false;
      uint64_t pc = getRegs(pid).rip;
      bool hw = false;
      for (auto& sl : slots) hw |= sl.used && sl.type == 0 && sl.addr == pc;
      if (sw.count(pc) || hw) {
        bool overSyscall = false;
        Stop st = stepOver(pid, pc, sig, overSyscall);
        if (overSyscall && st.kind == Stop::kSyscall) {
          stepDone = true;
          return st;
        }
        Verdict v = classify(pid, st, !overSyscall);
        if (v == kReturn) {
          stepDone = mode != kCont;
          return st;
        }
        if (v == kStepped && !continueAfterStep(pid)) throw stopWith("step");
      }
    }
    for (;;) {
      bool stepping = false, overSyscall = false;
      int request = PTRACE_SYSCALL;
      if (mode != kCont) {
        if (isSyscallInsn(pid, getRegs(pid).rip)) overSyscall = true;
        else {
          request = PTRACE_SINGLESTEP;
          stepping = true;
        }
      }
      resumeWatched(pid, request, sig);
      Stop st = waitFor(pid);
      if (overSyscall && st.kind == Stop::kSyscall) {
        stepDone = true;
        return st;
      }
      switch (classify(pid, st, stepping)) {
        case kAgain:
          continue;
        case kReturn:
          stepDone = stepping;
          return st;
        case kStepped:
          if (continueAfterStep(pid)) continue;
          throw stopWith("step");
      }
    }
  }

  bool afterEvent(pid_t pid, const RecordView& done, const RecordView* next, StopInfo& info) override {
    // A fatal signal: stop at the faulting instruction before it is delivered.
    if (done.kind() == kEvSignal && next && next->kind() == kEvExit && next->get32(12) == 1) {
      info.reason = "signal";
      info.num("signal", done.get32(12));
      return true;
    }
    if (mode == kCont || !stepDone) return false;
    stepDone = false;
    if (done.kind() == kEvSignal) return false;  // a signal arrived: the step enters its handler
    if (next && next->kind() == kEvExit) return false;  // exit_group: let the exit happen
    if (continueAfterStep(pid)) return false;
    info.reason = "step";
    return true;
  }
};

std::map<pid_t, std::unique_ptr<Debugger>> debuggers;

Debugger& debuggerFor(pid_t pid) {
  auto& d = debuggers[pid];
  if (!d) d = std::make_unique<Debugger>();
  return *d;
}

using Napi::CallbackInfo;
using Napi::Value;

#define USAGE_CHECK(cond, usage)                                                                   \
  if (!(cond)) {                                                                                   \
    Napi::TypeError::New(info.Env(), std::string("bad arguments (usage: ") + usage + ")")         \
        .ThrowAsJavaScriptException();                                                             \
    return info.Env().Undefined();                                                                 \
  }

uint64_t big(const Napi::Value& v) {
  bool lossless;
  return v.As<Napi::BigInt>().Uint64Value(&lossless);
}

Outcome nothing() {
  Outcome o;
  o.build = [](Napi::Env env) { return env.Undefined(); };
  return o;
}

Value DebugRun(const CallbackInfo& info) {
  const char* usage =
      "debugRun(pid, table: Int32Array, events: Buffer, offset, maxEvents, { mode: 0|1|2, start: bigint, end: bigint, fresh: boolean })";
  USAGE_CHECK(info.Length() == 6 && info[0].IsNumber() && info[1].IsTypedArray() && info[2].IsBuffer() &&
                  info[3].IsNumber() && info[4].IsNumber() && info[5].IsObject(),
              usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  Napi::Int32Array a = info[1].As<Napi::Int32Array>();
  auto table = std::make_shared<std::vector<Row>>(kTableRows);
  std::memcpy(table->data(), a.Data(), std::min<size_t>(a.ElementLength() * 4, table->size() * sizeof(Row)));
  auto b = info[2].As<Napi::Buffer<uint8_t>>();
  auto events = std::make_shared<std::vector<uint8_t>>(b.Data(), b.Data() + b.Length());
  size_t offset = size_t(info[3].As<Napi::Number>().Int64Value());
  uint32_t maxEvents = info[4].As<Napi::Number>().Uint32Value();
  Napi::Object o = info[5].As<Napi::Object>();
  int mode = o.Get("mode").As<Napi::Number>().Int32Value();
  uint64_t start = o.Has("start") ? big(o.Get("start")) : 0, end = o.Has("end") ? big(o.Get("end")) : 0;
  bool fresh = o.Get("fresh").ToBoolean();
  USAGE_CHECK(mode >= kCont && mode <= kRange, usage);
  return submitToTracer(info.Env(), usage, [=] {
    Debugger& d = debuggerFor(pid);
    d.mode = mode;
    d.start = start;
    d.end = end;
    if (fresh) {
      d.fresh = true;
      d.stepDone = false;
      pid_t want = pid;
      interruptFor.compare_exchange_strong(want, 0);  // a stale interrupt from the last resume
    }
    replaySetDebugHook(pid, &d);
    auto r = std::make_shared<LoopResult>(replayRun(pid, *table, *events, offset, maxEvents));
    if (r->stop.reason != "exited" && r->stop.reason != "killed") replaySetDebugHook(pid, nullptr);
    Outcome out;
    out.build = [r](Napi::Env env) { return loopResultToJs(env, *r); };
    return out;
  });
}

Value InsertBreakpoint(const CallbackInfo& info) {
  const char* usage = "insertBreakpoint(pid, addr: bigint): original byte";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBigInt(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = big(info[1]);
  return submitToTracer(info.Env(), usage, [pid, addr] {
    Debugger& d = debuggerFor(pid);
    uint8_t orig;
    auto it = d.sw.find(addr);
    if (it != d.sw.end()) orig = it->second;
    else {
      if (readMemory(pid, addr, &orig, 1) != 1) throw NativeError{EFAULT, "no memory for a breakpoint"};
      writeMemory(pid, addr, "\xcc", 1);
      d.sw[addr] = orig;
    }
    Outcome o;
    o.build = [orig](Napi::Env env) { return Napi::Number::New(env, orig); };
    return o;
  });
}

Value RemoveBreakpoint(const CallbackInfo& info) {
  const char* usage = "removeBreakpoint(pid, addr: bigint)";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBigInt(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = big(info[1]);
  return submitToTracer(info.Env(), usage, [pid, addr] {
    Debugger& d = debuggerFor(pid);
    auto it = d.sw.find(addr);
    if (it != d.sw.end()) {
      uint8_t orig = it->second;
      d.sw.erase(it);
      writeMemory(pid, addr, &orig, 1);
    }
    return nothing();
  });
}

Value SetDebugRegs(const CallbackInfo& info) {
  const char* usage = "setDebugRegs(pid, slots: ({ addr: bigint, type: 0|1|3, len: 1|2|4|8 } | null)[4])";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsArray() && info[1].As<Napi::Array>().Length() == 4,
              usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  Napi::Array arr = info[1].As<Napi::Array>();
  std::array<Slot, 4> slots;
  for (uint32_t i = 0; i < 4; i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) continue;
    Napi::Object s = v.As<Napi::Object>();
    slots[i].used = true;
    slots[i].addr = big(s.Get("addr"));
    slots[i].type = s.Get("type").As<Napi::Number>().Int32Value();
    slots[i].len = s.Get("len").As<Napi::Number>().Int32Value();
    USAGE_CHECK((slots[i].type == 0 || slots[i].type == 1 || slots[i].type == 3) &&
                    (slots[i].len == 1 || slots[i].len == 2 || slots[i].len == 4 || slots[i].len == 8),
                usage);
  }
  return submitToTracer(info.Env(), usage, [pid, slots] {
    Debugger& d = debuggerFor(pid);
    for (int i = 0; i < 4; i++) d.slots[i] = slots[i];
    d.writeDebugRegs(pid);
    return nothing();
  });
}

// Runs on the JS thread, not on the tracer thread: wakes a waiting loop.
Value Interrupt(const CallbackInfo& info) {
  const char* usage = "interrupt(pid): boolean";
  USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  interruptFor.store(pid);
  bool running = runningPid.load() == pid;
  if (running) syscall(SYS_tgkill, pid, pid, SIGSTOP);
  return Napi::Boolean::New(info.Env(), running);
}

Value DebugForget(const CallbackInfo& info) {
  const char* usage = "debugForget(pid)";
  USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  return submitToTracer(info.Env(), usage, [pid] {
    debuggers.erase(pid);
    return nothing();
  });
}

Value GetXState(const CallbackInfo& info) {
  const char* usage = "getXState(pid): Buffer (XSAVE area, or the 512-byte FXSAVE area)";
  USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  return submitToTracer(info.Env(), usage, [pid] {
    auto buf = std::make_shared<std::vector<uint8_t>>(16384);
    struct iovec iov = {buf->data(), buf->size()};
    if (ptrace(PTRACE_GETREGSET, pid, (void*)NT_X86_XSTATE, &iov) == 0) {
      buf->resize(iov.iov_len);
    } else {
      buf->resize(sizeof(user_fpregs_struct));
      if (ptrace(PTRACE_GETFPREGS, pid, nullptr, buf->data()) != 0)
        throw NativeError{errno, "ptrace(PTRACE_GETFPREGS)"};
    }
    Outcome o;
    o.build = [buf](Napi::Env env) { return Napi::Buffer<uint8_t>::Copy(env, buf->data(), buf->size()); };
    return o;
  });
}

Value SetXState(const CallbackInfo& info) {
  const char* usage = "setXState(pid, data: Buffer from getXState)";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBuffer(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  auto b = info[1].As<Napi::Buffer<uint8_t>>();
  auto data = std::make_shared<std::vector<uint8_t>>(b.Data(), b.Data() + b.Length());
  return submitToTracer(info.Env(), usage, [pid, data] {
    if (data->size() == sizeof(user_fpregs_struct)) {
      if (ptrace(PTRACE_SETFPREGS, pid, nullptr, data->data()) != 0) throw NativeError{errno, "ptrace(PTRACE_SETFPREGS)"};
    } else {
      struct iovec iov = {data->data(), data->size()};
      if (ptrace(PTRACE_SETREGSET, pid, (void*)NT_X86_XSTATE, &iov) != 0)
        throw NativeError{errno, "ptrace(PTRACE_SETREGSET, NT_X86_XSTATE)"};
    }
    return nothing();
  });
}

}  // namespace

void registerDebugExports(Napi::Env env, Napi::Object exports) {
  exports.Set("debugRun", Napi::Function::New(env, DebugRun));
  exports.Set("insertBreakpoint", Napi::Function::New(env, InsertBreakpoint));
  exports.Set("removeBreakpoint", Napi::Function::New(env, RemoveBreakpoint));
  exports.Set("setDebugRegs", Napi::Function::New(env, SetDebugRegs));
  exports.Set("interrupt", Napi::Function::New(env, Interrupt));
  exports.Set("debugForget", Napi::Function::New(env, DebugForget));
  exports.Set("getXState", Napi::Function::New(env, GetXState));
  exports.Set("setXState", Napi::Function::New(env, SetXState));
}

}  // namespace rw
