// The record loop's JS surface (typed in src/native/addon.ts): `new Recording(root,
// recordChildren)` is one recording (record_processes.h) as a JS object whose
// lifetime JS owns, as the Debugger is (debug_exports.cc). run() runs the loop on
// the tracer thread; requestStop() sets a flag from the JS thread, since the tracer
// thread may be waiting for the program; close() kills what is still recorded. The
// object and each job hold the state by a shared pointer: it lives until the last
// job that uses it has run, and a Recording garbage-collected without close() frees
// its memory only (its processes die with the recorder: PTRACE_O_EXITKILL).
#include <napi.h>

#include <errno.h>

#include <map>
#include <memory>
#include <string>

#include "js_args.h"
#include "cpuid_emulation.h"
#include "loop_result.h"
#include "record_processes.h"
#include "record_loop.h"
#include "record_preempt.h"
#include "record_slices.h"
#include "tracer_thread.h"

namespace rw {

Napi::Object loopResultToJs(Napi::Env env, LoopResult& r);  // module.cc

namespace {

using Napi::CallbackInfo;

class RecordingObject : public Napi::ObjectWrap<RecordingObject> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Recording",
                       {InstanceAccessor<&RecordingObject::Root>("root"),
                        InstanceMethod<&RecordingObject::Run>("run"),
                        InstanceMethod<&RecordingObject::RequestStop>("requestStop"),
                        InstanceMethod<&RecordingObject::KnowImage>("knowImage"),
                        InstanceMethod<&RecordingObject::PointRunTo>("pointRunTo"),
                        InstanceMethod<&RecordingObject::PointDeliver>("pointDeliver"),
                        InstanceMethod<&RecordingObject::PointHoldBack>("pointHoldBack"),
                        InstanceMethod<&RecordingObject::PreemptSwitch>("preemptSwitch"),
                        InstanceMethod<&RecordingObject::SetSlices>("setSlices"),
                        InstanceMethod<&RecordingObject::CpuidSetAnswers>("cpuidSetAnswers"),
                        InstanceMethod<&RecordingObject::CpuidEnableFaulting>("cpuidEnableFaulting"),
                        InstanceMethod<&RecordingObject::CpuidAtExec>("cpuidAtExec"),
                        InstanceMethod<&RecordingObject::CpuidPatch>("cpuidPatch"),
                        InstanceMethod<&RecordingObject::Close>("close")});
  }

  explicit RecordingObject(const CallbackInfo& info) : Napi::ObjectWrap<RecordingObject>(info) {
    if (!(info.Length() == 2 && info[0].IsNumber() && info[0].As<Napi::Number>().Int32Value() > 0 &&
          info[1].IsBoolean())) {
      Napi::TypeError::New(info.Env(),
                           "bad arguments (usage: new Recording(root: a spawned tracee's pid, recordChildren: boolean))")
          .ThrowAsJavaScriptException();
      return;
    }
    root = info[0].As<Napi::Number>().Int32Value();
    state = std::make_shared<Recording>(root, info[1].As<Napi::Boolean>().Value());
  }

 private:
  pid_t root = 0;
  std::shared_ptr<Recording> state;  // null once closed

  // A rejected Promise for a call after close(): a bug in the caller, said clearly.
  Napi::Value closed(const CallbackInfo& info, const char* usage) {
    auto d = Napi::Promise::Deferred::New(info.Env());
    Napi::Error e = Napi::Error::New(info.Env(), "the recording of process " + std::to_string(root) +
                                                     " was closed (usage: " + usage + ")");
    e.Set("code", Napi::String::New(info.Env(), "EDISPOSED"));
    d.Reject(e.Value());
    return d.Promise();
  }

  Napi::Value Root(const CallbackInfo& info) { return Napi::Number::New(info.Env(), root); }

  Napi::Value Run(const CallbackInfo& info) {
    const char* usage = "run(table: Int32Array, maxBytes: number)";
    USAGE_CHECK(info.Length() == 2 && info[0].IsTypedArray() && info[1].IsNumber(), usage);
    auto table = std::make_shared<std::vector<Row>>(tableFrom(info[0]));
    size_t maxBytes = size_t(info[1].As<Napi::Number>().Int64Value());
    if (!state) return closed(info, usage);
    return submitToTracer(info.Env(), usage, [rec = state, table, maxBytes] {
      auto r = std::make_shared<LoopResult>(recordRun(*rec, *table, maxBytes));
      Outcome o;
      o.build = [r](Napi::Env env) { return loopResultToJs(env, *r); };
      return o;
    });
  }

  // The asynchronous signal's point (record_preempt.h), between runs: steering, then
  // delivery or holding back.
  Napi::Value PointRunTo(const CallbackInfo& info) {
    const char* usage =
        "pointRunTo(pid, addr: bigint, wantRsp: bigint, budgetTicks: number): "
        "{ regs: Buffer (user_regs_struct), arrived: boolean, events: Buffer } | null";
    USAGE_CHECK(info.Length() == 4 && info[0].IsNumber() && info[1].IsBigInt() && info[2].IsBigInt() && info[3].IsNumber(),
                usage);
    pid_t pid = info[0].As<Napi::Number>().Int32Value();
    uint64_t addr = big(info[1]), rsp = big(info[2]);
    uint64_t budget = uint64_t(info[3].As<Napi::Number>().Int64Value());
    if (!state) return closed(info, usage);
    return submitToTracer(info.Env(), usage, [rec = state, pid, addr, rsp, budget] {
      user_regs_struct r{};
      bool arrived = false;
      auto flushed = std::make_shared<std::vector<uint8_t>>();
      bool stands = pointRunTo(*rec, pid, addr, rsp, budget, r, arrived, *flushed);
      Outcome o;
      o.build = [stands, arrived, r, flushed](Napi::Env env) -> Napi::Value {
        if (!stands) return env.Null();
        Napi::Object res = Napi::Object::New(env);
        res.Set("regs", Napi::Buffer<uint8_t>::Copy(env, (const uint8_t*)&r, sizeof r));
        res.Set("arrived", arrived);
        res.Set("events", Napi::Buffer<uint8_t>::Copy(env, flushed->data(), flushed->size()));
        return res;
      };
      return o;
    });
  }

  Napi::Value PointDeliver(const CallbackInfo& info) { return pointCall(info, "pointDeliver(pid)", pointDeliver); }
  Napi::Value PointHoldBack(const CallbackInfo& info) { return pointCall(info, "pointHoldBack(pid)", pointHoldBack); }

  // After a 'preempt' stop (record_slices.h): the runner is switched out, or runs on.
  Napi::Value PreemptSwitch(const CallbackInfo& info) {
    const char* usage = "preemptSwitch(pid, switched: boolean)";
    USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBoolean(), usage);
    pid_t pid = info[0].As<Napi::Number>().Int32Value();
    bool switched = info[1].As<Napi::Boolean>().Value();
    if (!state) return closed(info, usage);
    return submitToTracer(info.Env(), usage, [rec = state, pid, switched] {
      preemptSwitch(*rec, pid, switched);
      return nothing();
    });
  }

  // Before the first run: the threads' slice length, and chaos with its seed.
  Napi::Value SetSlices(const CallbackInfo& info) {
    const char* usage = "setSlices(sliceMs: number > 0, chaos: boolean, seed: bigint)";
    USAGE_CHECK(info.Length() == 3 && info[0].IsNumber() && info[0].As<Napi::Number>().DoubleValue() > 0 &&
                    info[1].IsBoolean() && info[2].IsBigInt(), usage);
    SliceSettings c;
    c.sliceMs = info[0].As<Napi::Number>().DoubleValue();
    c.chaos = info[1].As<Napi::Boolean>().Value();
    c.rng = big(info[2]);
    if (!state) return closed(info, usage);
    return submitToTracer(info.Env(), usage, [rec = state, c] {
      rec->slices = c;
      return nothing();
    });
  }

  Napi::Value pointCall(const CallbackInfo& info, const char* usage, void (*f)(Recording&, pid_t)) {
    USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
    pid_t pid = info[0].As<Napi::Number>().Int32Value();
    if (!state) return closed(info, usage);
    return submitToTracer(info.Env(), usage, [rec = state, pid, f] {
      f(*rec, pid);
      return nothing();
    });
  }

  // ---- CPUID (cpuid_emulation.h) of one recorded process: its state is its Session's.
  // The root (before the first run too) or a process the loop reported; any other
  // pid is refused (ESRCH), and nothing is made for it.
  static Session& recorded(Recording& rec, pid_t pid) {
    if (pid != rec.root && !rec.procs.count(pid))
      throw NativeError{ESRCH, "process " + std::to_string(pid) + " is not recorded"};
    return rec.procs[pid];
  }

  Napi::Value CpuidSetAnswers(const CallbackInfo& info) {
    const char* usage = "cpuidSetAnswers(pid, rows: [leaf, subleaf, eax, ebx, ecx, edx][] | null)";
    std::shared_ptr<const std::map<uint64_t, CpuidAnswer>> answers;
    USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && cpuidAnswersFrom(info[1], answers), usage);
    pid_t pid = info[0].As<Napi::Number>().Int32Value();
    if (!state) return closed(info, usage);
    return submitToTracer(info.Env(), usage, [rec = state, pid, answers] {
      recorded(*rec, pid).cpuid.answers = answers;
      return nothing();
    });
  }

  Napi::Value CpuidAtExec(const CallbackInfo& info) {
    const char* usage = "cpuidAtExec(rows: [leaf, subleaf, eax, ebx, ecx, edx][] | null) (faulting on again at each exec stop)";
    std::shared_ptr<const std::map<uint64_t, CpuidAnswer>> answers;
    USAGE_CHECK(info.Length() == 1 && cpuidAnswersFrom(info[0], answers), usage);
    if (!state) return closed(info, usage);
    return submitToTracer(info.Env(), usage, [rec = state, answers] {
      rec->cpuidExecAnswers = answers;
      rec->cpuidFaultingAtExec = true;
      return nothing();
    });
  }

  Napi::Value CpuidEnableFaulting(const CallbackInfo& info) {
    const char* usage = "cpuidEnableFaulting(pid): boolean (ARCH_SET_CPUID 0 in the stopped tracee)";
    USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
    pid_t pid = info[0].As<Napi::Number>().Int32Value();
    if (!state) return closed(info, usage);
    return submitToTracer(info.Env(), usage, [rec = state, pid] {
      bool on = cpuidEnableFaulting(pid, recorded(*rec, pid).cpuid);
      Outcome o;
      o.build = [on](Napi::Env env) { return Napi::Boolean::New(env, on); };
      return o;
    });
  }

  Napi::Value CpuidPatch(const CallbackInfo& info) {
    const char* usage = "cpuidPatch(pid, start: bigint, end: bigint, sites: bigint[]): number patched";
    USAGE_CHECK(info.Length() == 4 && info[0].IsNumber() && info[1].IsBigInt() && info[2].IsBigInt() && info[3].IsArray(),
                usage);
    pid_t pid = info[0].As<Napi::Number>().Int32Value();
    uint64_t start = big(info[1]), end = big(info[2]);
    std::vector<uint64_t> sites;
    Napi::Array arr = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      USAGE_CHECK(arr.Get(i).IsBigInt(), usage);
      sites.push_back(big(arr.Get(i)));
    }
    if (!state) return closed(info, usage);
    return submitToTracer(info.Env(), usage, [rec = state, pid, start, end, sites] {
      return number(cpuidPatch(pid, recorded(*rec, pid).cpuid, start, end, sites));
    });
  }

  // Synchronous, on the JS thread: the running (or next) run keeps what the syscall
  // buffer holds at the program's next stop, kills it and returns reason 'stopped'.
  Napi::Value RequestStop(const CallbackInfo& info) {
    if (state) state->stopRequested = true;
    return info.Env().Undefined();
  }

  // An ELF image JS stored (record_images.h): its key, content hash and, when CPUID
  // sites are patched, their file offsets (null: nothing to patch); the loop writes
  // the map-file events of its later mappings itself. A job like a run, so it
  // applies before the next run.
  Napi::Value KnowImage(const CallbackInfo& info) {
    const char* usage =
        "knowImage(dev: bigint, ino: bigint, size: bigint, mtimeNs: bigint, ctimeNs: bigint, sha: string, sites: number[] | null)";
    USAGE_CHECK(info.Length() == 7 && info[0].IsBigInt() && info[1].IsBigInt() && info[2].IsBigInt() && info[3].IsBigInt() &&
                    info[4].IsBigInt() && info[5].IsString() && (info[6].IsNull() || info[6].IsArray()),
                usage);
    ImageKey key{big(info[0]), big(info[1]), big(info[2]), big(info[3]), big(info[4])};
    KnownImage image;
    image.sha = info[5].As<Napi::String>().Utf8Value();
    image.patch = info[6].IsArray();
    if (image.patch) {
      Napi::Array a = info[6].As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) image.sites.push_back(uint64_t(a.Get(i).As<Napi::Number>().Int64Value()));
    }
    if (!state) return closed(info, usage);
    return submitToTracer(info.Env(), usage, [rec = state, key, image] {
      rec->images[key] = image;
      return nothing();
    });
  }

  // Every process still recorded dies; then the state goes, after the jobs already
  // submitted (the queue is in order). Safe to call again.
  Napi::Value Close(const CallbackInfo& info) {
    const char* usage = "close()";
    if (!state) {
      auto d = Napi::Promise::Deferred::New(info.Env());
      d.Resolve(info.Env().Undefined());
      return d.Promise();
    }
    return submitToTracer(info.Env(), usage, [rec = std::move(state)]() mutable {
      recordKillAll(*rec);
      rec.reset();
      return nothing();
    });
  }
};

}  // namespace

void registerRecordingExports(Napi::Env env, Napi::Object exports) {
  exports.Set("Recording", RecordingObject::define(env));
}

}  // namespace rw
