// The debugger's JS surface (typed in src/native/addon.ts): each export checks its
// arguments on the JS thread, copies them off the JS heap, and runs the work on the
// tracer thread against the Debugger of the process (debugger.h). Also the exports
// that act on any stopped tracee: forkProcess, fingerprint, the XSAVE area.
#include "debug_exports.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#include <map>
#include <memory>

#include "debugger.h"
#include "js_args.h"
#include "process_copy.h"

namespace rw {
namespace {

std::map<pid_t, std::unique_ptr<Debugger>> debuggers;

Debugger& debuggerFor(pid_t pid) {
  auto& d = debuggers[pid];
  if (!d) d = std::make_unique<Debugger>(pid);
  return *d;
}

using Napi::CallbackInfo;
using Napi::Value;

// debugRun's options object as a RunRequest; false when it does not fit the usage.
bool runRequestFrom(Napi::Object o, RunRequest& req) {
  req.mode = o.Get("mode").As<Napi::Number>().Int32Value();
  req.start = o.Has("start") ? big(o.Get("start")) : 0;
  req.end = o.Has("end") ? big(o.Get("end")) : 0;
  req.fresh = o.Get("fresh").ToBoolean();
  if (!(req.mode >= kCont && req.mode <= kRange && o.Get("event").IsNumber())) return false;
  req.event = o.Get("event").As<Napi::Number>().Uint32Value();
  req.steps = o.Has("steps") ? uint64_t(o.Get("steps").As<Napi::Number>().Int64Value()) : 1;
  req.search = o.Get("search").ToBoolean();
  req.startCandidate = o.Get("startCandidate").ToBoolean();
  req.stopSignals = o.Get("stopSignals").IsBigInt() ? big(o.Get("stopSignals")) : 0;
  if (o.Get("silent").IsArray()) {
    Napi::Array arr = o.Get("silent").As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) req.silent.push_back(big(arr.Get(i)));
  }
  if (o.Get("target").IsObject()) {
    Napi::Object t = o.Get("target").As<Napi::Object>();
    req.targetKind = t.Get("kind").As<Napi::Number>().Int32Value();
    req.targetEvent = t.Get("event").As<Napi::Number>().Uint32Value();
    req.targetPc = t.Has("pc") ? big(t.Get("pc")) : 0;
    if (!(req.targetKind >= kTargetArrival && req.targetKind <= kTargetFingerprint)) return false;
    if (req.targetKind == kTargetFingerprint) {
      if (!t.Get("fp").IsBuffer()) return false;
      req.targetFp = *bytesFrom(t.Get("fp"));
    } else {
      req.targetN = uint64_t(t.Get("n").As<Napi::Number>().Int64Value());
    }
  }
  if (o.Get("slices").IsArray()) {
    Napi::Array arr = o.Get("slices").As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++)
      req.sliceAt.push_back(uint64_t(arr.Get(i).As<Napi::Number>().Int64Value()));
    if (!o.Get("forkAt").IsBigInt()) return false;  // copies need a place to inject their clone
  }
  req.forkAt = o.Get("forkAt").IsBigInt() ? big(o.Get("forkAt")) : 0;
  return true;
}

Value DebugRun(const CallbackInfo& info) {
  const char* usage =
      "debugRun(pid, table: Int32Array, events: Buffer, offset, maxEvents, { mode: 0|1|2, start: bigint, end: bigint, "
      "fresh: boolean, event: number, steps?: number, silent?: bigint[], search?: boolean, startCandidate?: boolean, "
      "target?: { kind: 0|1|2, event: number, pc?: bigint, n?: number, fp?: Buffer }, slices?: number[], forkAt?: bigint })";
  USAGE_CHECK(info.Length() == 6 && info[0].IsNumber() && info[1].IsTypedArray() && info[2].IsBuffer() &&
                  info[3].IsNumber() && info[4].IsNumber() && info[5].IsObject(),
              usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  auto table = std::make_shared<std::vector<Row>>(tableFrom(info[1]));
  auto events = bytesFrom(info[2]);
  size_t offset = size_t(info[3].As<Napi::Number>().Int64Value());
  uint32_t maxEvents = info[4].As<Napi::Number>().Uint32Value();
  auto req = std::make_shared<RunRequest>();
  USAGE_CHECK(runRequestFrom(info[5].As<Napi::Object>(), *req), usage);
  return submitToTracer(info.Env(), usage, [=] {
    auto r = std::make_shared<LoopResult>(debuggerFor(pid).run(*req, *table, *events, offset, maxEvents));
    Outcome out;
    out.build = [r](Napi::Env env) { return loopResultToJs(env, *r); };
    return out;
  });
}

Value DebugSetPosition(const CallbackInfo& info) {
  const char* usage = "debugSetPosition(pid, event, boundary: boolean, pc: bigint, n)";
  USAGE_CHECK(info.Length() == 5 && info[0].IsNumber() && info[1].IsNumber() && info[3].IsBigInt() && info[4].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint32_t event = info[1].As<Napi::Number>().Uint32Value();
  bool boundary = info[2].ToBoolean();
  uint64_t pc = big(info[3]);
  uint64_t n = uint64_t(info[4].As<Napi::Number>().Int64Value());
  return submitToTracer(info.Env(), usage, [=] {
    debuggerFor(pid).setPosition(event, boundary, pc, n);
    return nothing();
  });
}

// A checkpoint (forkCopy) of a stopped tracee, without the debugger's int3s.
Value ForkProcess(const CallbackInfo& info) {
  const char* usage = "forkProcess(pid, insnAddr: bigint): child pid";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBigInt(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t insn = big(info[1]);
  return submitToTracer(info.Env(), usage, [pid, insn] {
    auto it = debuggers.find(pid);
    return number(it == debuggers.end() ? forkCopy(pid, insn, nullptr) : it->second->forkCopyAt(insn));
  });
}

Value Fingerprint(const CallbackInfo& info) {
  const char* usage = "fingerprint(pid): Buffer (registers and the 64 bytes at the stack pointer)";
  USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  return submitToTracer(info.Env(), usage, [pid] {
    auto fp = std::make_shared<std::vector<uint8_t>>(fingerprint(pid));
    Outcome o;
    o.build = [fp](Napi::Env env) { return Napi::Buffer<uint8_t>::Copy(env, fp->data(), fp->size()); };
    return o;
  });
}

Value InsertBreakpoint(const CallbackInfo& info) {
  const char* usage = "insertBreakpoint(pid, addr: bigint): original byte";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBigInt(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = big(info[1]);
  return submitToTracer(info.Env(), usage, [pid, addr] { return number(debuggerFor(pid).insertBreakpoint(addr)); });
}

Value RemoveBreakpoint(const CallbackInfo& info) {
  const char* usage = "removeBreakpoint(pid, addr: bigint)";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBigInt(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = big(info[1]);
  return submitToTracer(info.Env(), usage, [pid, addr] {
    debuggerFor(pid).removeBreakpoint(addr);
    return nothing();
  });
}

Value SetDebugRegs(const CallbackInfo& info) {
  const char* usage = "setDebugRegs(pid, slots: ({ addr: bigint, type: 0|1|3, len: 1|2|4|8 } | null)[4])";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsArray() && info[1].As<Napi::Array>().Length() == 4,
              usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  Napi::Array arr = info[1].As<Napi::Array>();
  Slots slots;
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
    debuggerFor(pid).setSlots(slots);
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
  auto data = bytesFrom(info[1]);
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
  exports.Set("debugSetPosition", Napi::Function::New(env, DebugSetPosition));
  exports.Set("forkProcess", Napi::Function::New(env, ForkProcess));
  exports.Set("fingerprint", Napi::Function::New(env, Fingerprint));
  exports.Set("getXState", Napi::Function::New(env, GetXState));
  exports.Set("setXState", Napi::Function::New(env, SetXState));
}

}  // namespace rw
