// The debugger's JS surface (typed in src/native/addon.ts). `new Debugger(tracee)`
// is the Debugger (debugger.h) of one process (a Tracee, tracee_exports.cc), as a
// JS object whose lifetime JS owns: its methods check their arguments on the JS
// thread, copy them off the JS heap, and run the work on the tracer thread;
// dispose() (or the garbage collector) lets the state go. Also the exports that
// act on any stopped tracee: fingerprint, the XSAVE area.
#include "debug_exports.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "debugger.h"
#include "js_args.h"
#include "run_inputs.h"
#include "point_exports.h"
#include "process_copy.h"
#include "ptrace_ops.h"
#include "thread_exports.h"
#include "tracee_exports.h"

namespace rw {
namespace {

using Napi::CallbackInfo;
using Napi::Value;

// run()'s options object as a RunRequest; false when it does not fit the usage
// (every field is type-checked: a wrong one is a usage error, never a guess).
bool runRequestFrom(Napi::Object o, RunRequest& req) {
  auto optional = [&](Napi::Object from, const char* k, bool (Napi::Value::*is)() const) {
    Napi::Value v = from.Get(k);
    return v.IsUndefined() || (v.*is)();
  };
  if (!(o.Get("mode").IsNumber() && o.Get("event").IsNumber() && optional(o, "start", &Napi::Value::IsBigInt) &&
        optional(o, "end", &Napi::Value::IsBigInt) && optional(o, "steps", &Napi::Value::IsNumber) &&
        optional(o, "stopSignals", &Napi::Value::IsBigInt) && optional(o, "silent", &Napi::Value::IsArray) &&
        optional(o, "target", &Napi::Value::IsObject) && optional(o, "slices", &Napi::Value::IsArray) &&
        optional(o, "forkAt", &Napi::Value::IsBigInt) && optional(o, "counterTraps", &Napi::Value::IsArray) &&
        optional(o, "counterSeq", &Napi::Value::IsBigInt) && optional(o, "thread", &Napi::Value::IsNumber) &&
        optional(o, "spreadSlices", &Napi::Value::IsBoolean)))
    return false;
  req.mode = o.Get("mode").As<Napi::Number>().Int32Value();
  if (!(req.mode >= kCont && req.mode <= kRange)) return false;
  req.start = o.Get("start").IsBigInt() ? big(o.Get("start")) : 0;
  req.end = o.Get("end").IsBigInt() ? big(o.Get("end")) : 0;
  req.fresh = o.Get("fresh").ToBoolean();
  req.event = o.Get("event").As<Napi::Number>().Uint32Value();
  req.steps = o.Get("steps").IsNumber() ? uint64_t(o.Get("steps").As<Napi::Number>().Int64Value()) : 1;
  req.thread = o.Get("thread").IsNumber() ? o.Get("thread").As<Napi::Number>().Uint32Value() : 0;
  req.search = o.Get("search").ToBoolean();
  req.startCandidate = o.Get("startCandidate").ToBoolean();
  req.noFeed = o.Get("noFeed").ToBoolean();
  req.stopSignals = o.Get("stopSignals").IsBigInt() ? big(o.Get("stopSignals")) : 0;
  if (o.Get("silent").IsArray()) {
    Napi::Array arr = o.Get("silent").As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      if (!arr.Get(i).IsBigInt()) return false;
      req.silent.push_back(big(arr.Get(i)));
    }
  }
  if (o.Get("target").IsObject()) {
    Napi::Object t = o.Get("target").As<Napi::Object>();
    if (!(t.Get("kind").IsNumber() && t.Get("event").IsNumber() && optional(t, "pc", &Napi::Value::IsBigInt))) return false;
    req.targetKind = t.Get("kind").As<Napi::Number>().Int32Value();
    req.targetEvent = t.Get("event").As<Napi::Number>().Uint32Value();
    req.targetPc = t.Get("pc").IsBigInt() ? big(t.Get("pc")) : 0;
    if (!optional(t, "thread", &Napi::Value::IsNumber)) return false;
    req.targetThread = t.Get("thread").IsNumber() ? t.Get("thread").As<Napi::Number>().Uint32Value() : 0;
    if (!(req.targetKind >= kTargetArrival && req.targetKind <= kTargetFingerprint)) return false;
    if (req.targetKind == kTargetFingerprint) {
      if (!t.Get("fp").IsBuffer()) return false;
      req.targetFp = *bytesFrom(t.Get("fp"));
    } else {
      if (!t.Get("n").IsNumber()) return false;
      req.targetN = uint64_t(t.Get("n").As<Napi::Number>().Int64Value());
    }
  }
  if (o.Get("counterTraps").IsArray()) {  // [int3 address, counted pc] pairs (debugger_counters.cc)
    Napi::Array arr = o.Get("counterTraps").As<Napi::Array>();
    if (arr.Length() % 2 || (arr.Length() && req.mode != kCont)) return false;
    for (uint32_t i = 0; i + 1 < arr.Length(); i += 2) {
      if (!arr.Get(i).IsBigInt() || !arr.Get(i + 1).IsBigInt()) return false;
      req.counterTraps[big(arr.Get(i))] = big(arr.Get(i + 1));
    }
  }
  req.counterSeq = o.Get("counterSeq").IsBigInt() ? big(o.Get("counterSeq")) : 0;
  req.spreadSlices = o.Get("spreadSlices").IsBoolean() && o.Get("spreadSlices").As<Napi::Boolean>().Value();
  if (o.Get("slices").IsArray()) {
    Napi::Array arr = o.Get("slices").As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      if (!arr.Get(i).IsNumber()) return false;
      req.sliceAt.push_back(uint64_t(arr.Get(i).As<Napi::Number>().Int64Value()));
    }
    if (!o.Get("forkAt").IsBigInt()) return false;  // copies need a place to inject their clone
  }
  req.forkAt = o.Get("forkAt").IsBigInt() ? big(o.Get("forkAt")) : 0;
  if (o.Get("point").IsObject()) {  // the next event is this asynchronous signal's point (debugger_point.cc)
    Napi::Object p = o.Get("point").As<Napi::Object>();
    auto search = std::make_shared<PointSearch>();
    if (!pointSearchFrom(p, *search) || !p.Get("patch").IsBuffer() || !p.Get("arrivals").IsBigInt()) return false;
    req.pointArrivals = big(p.Get("arrivals"));
    req.pointPatch = *bytesFrom(p.Get("patch"));
    if (req.pointPatch.size() != search->original.size()) return false;
    req.point = search;
  }
  return true;
}

// A Debugger as a JS object (Napi::Value spelled out: ObjectWrap has a Value()).
// The state is shared with the jobs that use it (see
// debugger.h); after dispose() every method but interrupt() rejects.
class DebuggerObject : public Napi::ObjectWrap<DebuggerObject> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Debugger",
                       {InstanceAccessor<&DebuggerObject::Pid>("pid"),
                        InstanceMethod<&DebuggerObject::Run>("run"),
                        InstanceMethod<&DebuggerObject::SetPosition>("setPosition"),
                        InstanceMethod<&DebuggerObject::InsertBreakpoint>("insertBreakpoint"),
                        InstanceMethod<&DebuggerObject::RemoveBreakpoint>("removeBreakpoint"),
                        InstanceMethod<&DebuggerObject::SetDebugRegs>("setDebugRegs"),
                        InstanceMethod<&DebuggerObject::ArmThread>("armThread"),
                        InstanceMethod<&DebuggerObject::TakeHitSlots>("takeHitSlots"),
                        InstanceMethod<&DebuggerObject::ForkCopy>("forkCopy"),
                        InstanceMethod<&DebuggerObject::ForkReplayed>("forkReplayed"),
                        InstanceMethod<&DebuggerObject::Interrupt>("interrupt"),
                        InstanceMethod<&DebuggerObject::Dispose>("dispose")});
  }

  explicit DebuggerObject(const CallbackInfo& info) : Napi::ObjectWrap<DebuggerObject>(info) {
    if (!(info.Length() == 1 && isTracee(info.Env(), info[0]))) {
      Napi::TypeError::New(info.Env(), "bad arguments (usage: new Debugger(tracee: Tracee))").ThrowAsJavaScriptException();
      return;
    }
    TraceePtr t = traceeFrom(info.Env(), info[0]);
    if (!t) {
      Napi::Error e = Napi::Error::New(info.Env(), "the tracee was closed (usage: new Debugger(tracee: Tracee))");
      e.Set("code", Napi::String::New(info.Env(), "EDISPOSED"));
      e.ThrowAsJavaScriptException();
      return;
    }
    pid = t->pid;
    state = std::make_shared<Debugger>(std::move(t));
  }

  // Garbage collected without dispose(): the state holds the process's Tracee, whose
  // last reference must go on the tracer thread (it may kill the process).
  ~DebuggerObject() override {
    if (state) postToTracer([d = std::move(state)]() mutable { d.reset(); });
  }

 private:
  pid_t pid = 0;
  std::shared_ptr<Debugger> state;  // null once disposed

  // A rejected Promise for a call after dispose(): a bug in the caller, said clearly.
  Napi::Value disposed(const CallbackInfo& info, const char* usage) {
    auto d = Napi::Promise::Deferred::New(info.Env());
    Napi::Error e = Napi::Error::New(info.Env(), "the debugger of process " + std::to_string(pid) +
                                                     " was disposed (usage: " + usage + ")");
    e.Set("code", Napi::String::New(info.Env(), "EDISPOSED"));
    d.Reject(e.Value());
    return d.Promise();
  }

  Napi::Value Pid(const CallbackInfo& info) { return Napi::Number::New(info.Env(), pid); }

  Napi::Value Run(const CallbackInfo& info) {
    const char* usage =
        "run(table: Int32Array, events: Buffer, offset, maxEvents, { mode: 0|1|2, start: bigint, end: bigint, "
        "fresh: boolean, event: number, steps?: number, silent?: bigint[], search?: boolean, startCandidate?: boolean, noFeed?: boolean, "
        "target?: { kind: 0|1|2, event: number, pc?: bigint, n?: number, fp?: Buffer }, slices?: number[], spreadSlices?: boolean, forkAt?: bigint, counterTraps?: bigint[], counterSeq?: bigint, thread?: number })";
    USAGE_CHECK(info.Length() == 5 && info[0].IsTypedArray() && info[1].IsBuffer() && info[2].IsNumber() &&
                    info[3].IsNumber() && info[4].IsObject(),
                usage);
    RunInputs in = runInputsFrom(info[0], info[1]);  // (copied once per chunk)
    size_t offset = in.offset + size_t(info[2].As<Napi::Number>().Int64Value());
    uint32_t maxEvents = info[3].As<Napi::Number>().Uint32Value();
    auto req = std::make_shared<RunRequest>();
    USAGE_CHECK(runRequestFrom(info[4].As<Napi::Object>(), *req), usage);
    if (!state) return disposed(info, usage);
    return submitToTracer(info.Env(), usage, [d = state, req, table = in.table, events = in.events, offset, maxEvents] {
      auto r = std::make_shared<LoopResult>(d->run(*req, *table, *events, offset, maxEvents));
      Outcome out;
      out.build = [r](Napi::Env env) { return loopResultToJs(env, *r); };
      return out;
    });
  }

  // Where the process stands, for its counts: at the boundary of `event`, or at the
  // n-th arrival at pc in that interval (n = 0: unknown).
  Napi::Value SetPosition(const CallbackInfo& info) {
    const char* usage = "setPosition(event, boundary: boolean, pc: bigint, n, thread?: recorded tid of the thread that runs the interval)";
    USAGE_CHECK((info.Length() == 4 || info.Length() == 5) && info[0].IsNumber() && info[2].IsBigInt() && info[3].IsNumber() &&
                    (info.Length() == 4 || info[4].IsNumber()),
                usage);
    uint32_t event = info[0].As<Napi::Number>().Uint32Value();
    bool boundary = info[1].ToBoolean();
    uint64_t pc = big(info[2]);
    uint64_t n = uint64_t(info[3].As<Napi::Number>().Int64Value());
    uint32_t thread = info.Length() == 5 ? info[4].As<Napi::Number>().Uint32Value() : 0;
    if (!state) return disposed(info, usage);
    return submitToTracer(info.Env(), usage, [d = state, event, boundary, pc, n, thread] {
      if (thread) d->standIn(thread);
      d->setPosition(event, boundary, pc, n);
      return nothing();
    });
  }

  Napi::Value InsertBreakpoint(const CallbackInfo& info) {
    const char* usage = "insertBreakpoint(addr: bigint): original byte";
    USAGE_CHECK(info.Length() == 1 && info[0].IsBigInt(), usage);
    uint64_t addr = big(info[0]);
    if (!state) return disposed(info, usage);
    return submitToTracer(info.Env(), usage, [d = state, addr] { return number(d->insertBreakpoint(addr)); });
  }

  Napi::Value RemoveBreakpoint(const CallbackInfo& info) {
    const char* usage = "removeBreakpoint(addr: bigint)";
    USAGE_CHECK(info.Length() == 1 && info[0].IsBigInt(), usage);
    uint64_t addr = big(info[0]);
    if (!state) return disposed(info, usage);
    return submitToTracer(info.Env(), usage, [d = state, addr] {
      d->removeBreakpoint(addr);
      return nothing();
    });
  }

  Napi::Value SetDebugRegs(const CallbackInfo& info) {
    const char* usage = "setDebugRegs(slots: ({ addr: bigint, type: 0|1|3, len: 1|2|4|8 } | null)[4])";
    USAGE_CHECK(info.Length() == 1 && info[0].IsArray() && info[0].As<Napi::Array>().Length() == 4, usage);
    Napi::Array arr = info[0].As<Napi::Array>();
    Slots slots;
    for (uint32_t i = 0; i < 4; i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsObject()) continue;
      Napi::Object s = v.As<Napi::Object>();
      USAGE_CHECK(s.Get("addr").IsBigInt() && s.Get("type").IsNumber() && s.Get("len").IsNumber(), usage);
      slots[i].used = true;
      slots[i].addr = big(s.Get("addr"));
      slots[i].type = s.Get("type").As<Napi::Number>().Int32Value();
      slots[i].len = s.Get("len").As<Napi::Number>().Int32Value();
      USAGE_CHECK((slots[i].type == 0 || slots[i].type == 1 || slots[i].type == 3) &&
                      (slots[i].len == 1 || slots[i].len == 2 || slots[i].len == 4 || slots[i].len == 8),
                  usage);
    }
    if (!state) return disposed(info, usage);
    return submitToTracer(info.Env(), usage, [d = state, slots] {
      d->setSlots(slots);
      return nothing();
    });
  }

  // A thread of the process that JS resumes itself (gdb's code in a diversion) gets
  // the debug registers (debugger_outside_runs.cc).
  Napi::Value ArmThread(const CallbackInfo& info) {
    const char* usage = "armThread(pid: number of a thread of this process)";
    USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
    pid_t p = info[0].As<Napi::Number>().Int32Value();
    if (!state) return disposed(info, usage);
    return submitToTracer(info.Env(), usage, [d = state, p] {
      d->armThread(p);
      return nothing();
    });
  }

  // Which debug-register slots that thread's last trap stop hit (a mask; DR6 is cleared).
  Napi::Value TakeHitSlots(const CallbackInfo& info) {
    const char* usage = "takeHitSlots(pid: number of a thread of this process)";
    USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
    pid_t p = info[0].As<Napi::Number>().Int32Value();
    if (!state) return disposed(info, usage);
    return submitToTracer(info.Env(), usage, [d = state, p] {
      uint32_t hit = d->takeHitSlots(p);
      Outcome out;
      out.build = [hit](Napi::Env env) { return Napi::Number::New(env, hit); };
      return out;
    });
  }

  // A stopped copy of the process (a checkpoint) without this debugger's int3s.
  Napi::Value ForkCopy(const CallbackInfo& info) {
    const char* usage = "forkCopy(insnAddr: bigint): Tracee";
    USAGE_CHECK(info.Length() == 1 && info[0].IsBigInt(), usage);
    uint64_t insn = big(info[0]);
    if (!state) return disposed(info, usage);
    return submitToTracer(info.Env(), usage, [d = state, insn] {
      TraceePtr copy = d->forkCopyAt(insn);
      Outcome o;
      o.build = [copy](Napi::Env env) { return wrapTracee(env, copy); };
      return o;
    });
  }

  // forkReplayed (thread_exports.cc) of the debugged process, without this debugger's int3s.
  Napi::Value ForkReplayed(const CallbackInfo& info) {
    const char* usage = "forkReplayed(insnAddr: bigint): { recordedTid, tracee: Tracee }[]";
    USAGE_CHECK(info.Length() == 1 && info[0].IsBigInt(), usage);
    uint64_t insn = big(info[0]);
    if (!state) return disposed(info, usage);
    return submitToTracer(info.Env(), usage, [d = state, insn] {
      auto copies = std::make_shared<std::vector<TraceePtr>>(d->forkReplayedAt(insn));
      Outcome o;
      o.build = [copies](Napi::Env env) { return replayedCopyToJs(env, *copies); };
      return o;
    });
  }

  // Runs on the JS thread, not on the tracer thread: wakes a waiting run.
  Napi::Value Interrupt(const CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), state ? state->interrupt() : false);
  }

  // Lets the state go: the last reference is dropped on the tracer thread, after
  // the jobs already submitted (the queue is in order). Nothing in the process is
  // undone: call it when the process is killed, or has exited.
  Napi::Value Dispose(const CallbackInfo& info) {
    const char* usage = "dispose()";
    if (!state) return disposed(info, usage);
    return submitToTracer(info.Env(), usage, [d = std::move(state)]() mutable {
      d.reset();
      return nothing();
    });
  }
};

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

Value GetXState(const CallbackInfo& info) {
  const char* usage = "getXState(pid): Buffer (XSAVE area, or the 512-byte FXSAVE area)";
  USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  return submitToTracer(info.Env(), usage, [pid] {
    auto buf = std::make_shared<std::vector<uint8_t>>(getXState(pid));
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
    setXState(pid, *data);
    return nothing();
  });
}

}  // namespace

void registerDebugExports(Napi::Env env, Napi::Object exports) {
  exports.Set("Debugger", DebuggerObject::define(env));
  exports.Set("fingerprint", Napi::Function::New(env, Fingerprint));
  exports.Set("getXState", Napi::Function::New(env, GetXState));
  exports.Set("setXState", Napi::Function::New(env, SetXState));
}

}  // namespace rw
