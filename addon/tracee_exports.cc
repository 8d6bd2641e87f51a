// The JS class `Tracee` (typed in src/native/addon.ts as NativeTracee): one
// replayed process (tracee.h) whose lifetime JS owns. `new Tracee(pid)` adopts a
// process JS started (native.spawn); the addon hands back a Tracee for every
// process it makes (forkCopy, a debug run's slice copies, the replay loop's clone
// stop), built on the JS thread from the class kept in the env's instance data.
// Its methods check their arguments on the JS thread and run on the tracer
// thread; close() kills the process, after which every call rejects with
// EDISPOSED. A Tracee garbage-collected without close() hands its reference to the
// tracer thread, where the last reference kills the process: no orphan.
#include "tracee_exports.h"

#include <errno.h>

#include <memory>
#include <string>
#include <vector>

#include "cpuid_emulation.h"
#include "js_args.h"
#include "loop_result.h"
#include "process_copy.h"
#include "replay_loop.h"
#include "run_inputs.h"
#include "tracer_thread.h"

namespace rw {

Napi::Object loopResultToJs(Napi::Env env, LoopResult& r);  // module.cc

namespace {

using Napi::CallbackInfo;

// What the addon keeps per env: the Tracee class, to wrap the tracees it makes.
struct AddonData {
  Napi::FunctionReference traceeClass;
};

class TraceeObject : public Napi::ObjectWrap<TraceeObject> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Tracee",
                       {InstanceAccessor<&TraceeObject::Pid>("pid"),
                        InstanceAccessor<&TraceeObject::Closed>("closed"),
                        InstanceMethod<&TraceeObject::Run>("run"),
                        InstanceMethod<&TraceeObject::SetBrk>("setBrk"),
                        InstanceMethod<&TraceeObject::SetProcess>("setProcess"),
                        InstanceMethod<&TraceeObject::ReadMemory>("readMemory"),
                        InstanceMethod<&TraceeObject::WriteMemory>("writeMemory"),
                        InstanceMethod<&TraceeObject::CpuidEnableFaulting>("cpuidEnableFaulting"),
                        InstanceMethod<&TraceeObject::CpuidPatch>("cpuidPatch"),
                        InstanceMethod<&TraceeObject::ForkCopy>("forkCopy"),
                        InstanceMethod<&TraceeObject::Close>("close")});
  }

  // new Tracee(pid) from JS; new Tracee(External) from wrapTracee (JS cannot make an External).
  explicit TraceeObject(const CallbackInfo& info) : Napi::ObjectWrap<TraceeObject>(info) {
    if (info.Length() == 1 && info[0].IsExternal()) {
      state = *info[0].As<Napi::External<TraceePtr>>().Data();
    } else if (info.Length() == 1 && info[0].IsNumber() && info[0].As<Napi::Number>().Int32Value() > 0 &&
               info[0].As<Napi::Number>().DoubleValue() == info[0].As<Napi::Number>().Int32Value()) {
      state = std::make_shared<Tracee>(info[0].As<Napi::Number>().Int32Value());
    } else {
      Napi::TypeError::New(info.Env(), "bad arguments (usage: new Tracee(pid: a process started by native.spawn))")
          .ThrowAsJavaScriptException();
      return;
    }
    pid = state->pid;
  }

  // Garbage collected without close(): the reference goes to the tracer thread.
  ~TraceeObject() override {
    if (state) postToTracer([t = std::move(state)]() mutable { t.reset(); });
  }

  TraceePtr held() const { return state; }

 private:
  pid_t pid = 0;
  TraceePtr state;  // null once closed

  Napi::Value closedError(const CallbackInfo& info, const char* usage) {
    auto d = Napi::Promise::Deferred::New(info.Env());
    Napi::Error e = Napi::Error::New(info.Env(), "the tracee of process " + std::to_string(pid) +
                                                     " was closed (usage: " + usage + ")");
    e.Set("code", Napi::String::New(info.Env(), "EDISPOSED"));
    d.Reject(e.Value());
    return d.Promise();
  }

  Napi::Value Pid(const CallbackInfo& info) { return Napi::Number::New(info.Env(), pid); }
  Napi::Value Closed(const CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !state); }

  Napi::Value Run(const CallbackInfo& info) {
    const char* usage = "run(table: Int32Array, events: Buffer, offset: number, maxEvents: number)";
    USAGE_CHECK(info.Length() == 4 && info[0].IsTypedArray() && info[1].IsBuffer() && info[2].IsNumber() &&
                    info[3].IsNumber(),
                usage);
    RunInputs in = runInputsFrom(info[0], info[1]);  // (copied once per chunk)
    size_t offset = in.offset + size_t(info[2].As<Napi::Number>().Int64Value());
    uint32_t maxEvents = info[3].As<Napi::Number>().Uint32Value();
    if (!state) return closedError(info, usage);
    return submitToTracer(info.Env(), usage, [t = state, table = in.table, events = in.events, offset, maxEvents] {
      auto r = std::make_shared<LoopResult>(replayRun(*t, *table, *events, offset, maxEvents));
      Outcome o;
      o.build = [r](Napi::Env env) { return loopResultToJs(env, *r); };
      return o;
    });
  }

  Napi::Value SetBrk(const CallbackInfo& info) {
    const char* usage = "setBrk(brk: bigint)";
    USAGE_CHECK(info.Length() == 1 && info[0].IsBigInt(), usage);
    uint64_t brk = big(info[0]);
    if (!state) return closedError(info, usage);
    return submitToTracer(info.Env(), usage, [t = state, brk] {
      t->replay.brk = brk;
      return nothing();
    });
  }

  Napi::Value SetProcess(const CallbackInfo& info) {
    const char* usage = "setProcess(recordedPid: number, followChildren: boolean, echoMarked: boolean)";
    USAGE_CHECK(info.Length() == 3 && info[0].IsNumber() && info[1].IsBoolean() && info[2].IsBoolean(), usage);
    uint32_t recorded = info[0].As<Napi::Number>().Uint32Value();
    bool follow = info[1].As<Napi::Boolean>().Value();
    bool echoMarked = info[2].As<Napi::Boolean>().Value();
    if (!state) return closedError(info, usage);
    return submitToTracer(info.Env(), usage, [t = state, recorded, follow, echoMarked] {
      replaySetProcess(*t, recorded, follow, echoMarked);
      return nothing();
    });
  }

  // Memory as JS sees it: CPUID sites patched into ud2 read as the original bytes.
  Napi::Value ReadMemory(const CallbackInfo& info) {
    const char* usage = "readMemory(addr: bigint, length: number): Buffer (short if unreadable)";
    USAGE_CHECK(info.Length() == 2 && info[0].IsBigInt() && info[1].IsNumber() &&
                    info[1].As<Napi::Number>().Int64Value() >= 0,
                usage);
    uint64_t addr = big(info[0]);
    size_t len = size_t(info[1].As<Napi::Number>().Int64Value());
    if (!state) return closedError(info, usage);
    return submitToTracer(info.Env(), usage, [t = state, addr, len] {
      auto buf = std::make_shared<std::vector<uint8_t>>(len);
      buf->resize(t->read(addr, buf->data(), len));
      cpuidHidePatches(t->cpuid, addr, buf->data(), buf->size());
      Outcome o;
      o.build = [buf](Napi::Env env) { return Napi::Buffer<uint8_t>::Copy(env, buf->data(), buf->size()); };
      return o;
    });
  }

  // Through /proc/pid/mem (works on read-only code); a write that puts a patched
  // site's original bytes back keeps it patched.
  Napi::Value WriteMemory(const CallbackInfo& info) {
    const char* usage = "writeMemory(addr: bigint, data: Buffer)";
    USAGE_CHECK(info.Length() == 2 && info[0].IsBigInt() && info[1].IsBuffer(), usage);
    uint64_t addr = big(info[0]);
    auto data = bytesFrom(info[1]);
    if (!state) return closedError(info, usage);
    return submitToTracer(info.Env(), usage, [t = state, addr, data] {
      t->write(addr, data->data(), data->size());
      cpuidAfterWrite(t->pid, t->cpuid, addr, data->size());
      return nothing();
    });
  }

  Napi::Value CpuidEnableFaulting(const CallbackInfo& info) {
    const char* usage = "cpuidEnableFaulting(): boolean (ARCH_SET_CPUID 0 in the stopped tracee)";
    USAGE_CHECK(info.Length() == 0, usage);
    if (!state) return closedError(info, usage);
    return submitToTracer(info.Env(), usage, [t = state] {
      bool on = cpuidEnableFaulting(t->pid, t->cpuid);
      Outcome o;
      o.build = [on](Napi::Env env) { return Napi::Boolean::New(env, on); };
      return o;
    });
  }

  Napi::Value CpuidPatch(const CallbackInfo& info) {
    const char* usage = "cpuidPatch(start: bigint, end: bigint, sites: bigint[]): number patched";
    USAGE_CHECK(info.Length() == 3 && info[0].IsBigInt() && info[1].IsBigInt() && info[2].IsArray(), usage);
    uint64_t start = big(info[0]), end = big(info[1]);
    std::vector<uint64_t> sites;
    Napi::Array arr = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      USAGE_CHECK(arr.Get(i).IsBigInt(), usage);
      sites.push_back(big(arr.Get(i)));
    }
    if (!state) return closedError(info, usage);
    return submitToTracer(info.Env(), usage, [t = state, start, end, sites] {
      return number(cpuidPatch(t->pid, t->cpuid, start, end, sites));
    });
  }

  // A stopped copy of a process that holds no breakpoints (a checkpoint; clone
  // injected at insnAddr), as a new Tracee. A debugged process: Debugger.forkCopy.
  Napi::Value ForkCopy(const CallbackInfo& info) {
    const char* usage = "forkCopy(insnAddr: bigint): Tracee (a process without breakpoints)";
    USAGE_CHECK(info.Length() == 1 && info[0].IsBigInt(), usage);
    uint64_t insn = big(info[0]);
    if (!state) return closedError(info, usage);
    return submitToTracer(info.Env(), usage, [t = state, insn] {
      TraceePtr copy = forkCopy(*t, insn, nullptr);
      Outcome o;
      o.build = [copy](Napi::Env env) { return wrapTracee(env, copy); };
      return o;
    });
  }

  // Kills the process (SIGKILL, reaped) and closes its memory file, after the jobs
  // already submitted. A Debugger of it refuses to run from then on (the process is gone).
  Napi::Value Close(const CallbackInfo& info) {
    const char* usage = "close()";
    if (!state) return closedError(info, usage);
    return submitToTracer(info.Env(), usage, [t = std::move(state)]() mutable {
      t->kill();
      t.reset();
      return nothing();
    });
  }
};

}  // namespace

Napi::Value wrapTracee(Napi::Env env, TraceePtr t) {
  AddonData* data = env.GetInstanceData<AddonData>();
  return data->traceeClass.New({Napi::External<TraceePtr>::New(env, &t)});
}

bool isTracee(Napi::Env env, const Napi::Value& v) {
  AddonData* data = env.GetInstanceData<AddonData>();
  return v.IsObject() && v.As<Napi::Object>().InstanceOf(data->traceeClass.Value());
}

TraceePtr traceeFrom(Napi::Env env, const Napi::Value& v) {
  if (!isTracee(env, v)) return nullptr;
  return TraceeObject::Unwrap(v.As<Napi::Object>())->held();
}

void registerTraceeExports(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = TraceeObject::define(env);
  auto* data = new AddonData();
  data->traceeClass = Napi::Persistent(cls);
  env.SetInstanceData(data);
  exports.Set("Tracee", cls);
}

}  // namespace rw
