// The JS surface of points named by their state (typed in src/native/addon.ts):
// the exact-state hash, the search for a point in a replay, and the delivery of
// its signal. The recording's side is on the Recording object
// (recording_exports.cc), which owns the recorded processes.
#include <napi.h>

#include <cstring>

#include "js_args.h"
#include "point_exports.h"
#include "tracee_exports.h"
#include "replay_points.h"
#include "state_hash.h"
#include "tracer_thread.h"

namespace rw {
namespace {

using Napi::CallbackInfo;
using Napi::Value;

bool isRanges(const Napi::Value& v) {
  if (!v.IsArray()) return false;
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() % 2) return false;
  for (uint32_t i = 0; i < a.Length(); i++)
    if (!a.Get(i).IsBigInt()) return false;
  return true;
}

AddressRanges rangesFrom(const Napi::Value& v) {
  AddressRanges out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i + 1 < a.Length(); i += 2) out.emplace_back(big(a.Get(i)), big(a.Get(i + 1)));
  return out;
}

Napi::Value hashToJs(Napi::Env env, const StateHash& h) {
  uint8_t b[16];
  std::memcpy(b, &h.low, 8);
  std::memcpy(b + 8, &h.high, 8);
  return Napi::Buffer<uint8_t>::Copy(env, b, 16);
}

bool isBuffer(const Napi::Object& o, const char* k, size_t len) {
  return o.Has(k) && o.Get(k).IsBuffer() && (len == 0 || o.Get(k).As<Napi::Buffer<uint8_t>>().Length() == len);
}

bool isBig(const Napi::Object& o, const char* k) { return o.Has(k) && o.Get(k).IsBigInt(); }

// A rejected Promise for a closed Tracee: its process is gone.
Napi::Value closedTracee(const CallbackInfo& info, const char* usage) {
  auto d = Napi::Promise::Deferred::New(info.Env());
  Napi::Error e = Napi::Error::New(info.Env(), std::string("the tracee was closed (usage: ") + usage + ")");
  e.Set("code", Napi::String::New(info.Env(), "EDISPOSED"));
  d.Reject(e.Value());
  return d.Promise();
}

Value StateHashJs(const CallbackInfo& info) {
  const char* usage = "stateHash(pid, excluded: bigint[] (start, end pairs)): Buffer (16 bytes, xxh3-128)";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && isRanges(info[1]), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  AddressRanges excluded = rangesFrom(info[1]);
  return submitToTracer(info.Env(), usage, [pid, excluded] {
    StateHash h = stateHash(pid, excluded);
    Outcome o;
    o.build = [h](Napi::Env env) { return hashToJs(env, h); };
    return o;
  });
}

}  // namespace

// A point as JS describes it ({ pc, regs, hash, excluded, trapAfter, miss, original }):
// false when a field is missing or of the wrong type.
bool pointSearchFrom(Napi::Object o, PointSearch& p) {
  if (!(isBig(o, "pc") && isBuffer(o, "regs", sizeof(user_regs_struct)) && isBuffer(o, "hash", 16) && o.Has("excluded") &&
        isRanges(o.Get("excluded")) && isBig(o, "trapAfter") && isBig(o, "miss") && isBuffer(o, "original", 0)))
    return false;
  p.pc = big(o.Get("pc"));
  std::memcpy(&p.regs, o.Get("regs").As<Napi::Buffer<uint8_t>>().Data(), sizeof p.regs);
  const uint8_t* h = o.Get("hash").As<Napi::Buffer<uint8_t>>().Data();
  std::memcpy(&p.hash.low, h, 8);
  std::memcpy(&p.hash.high, h + 8, 8);
  p.excluded = rangesFrom(o.Get("excluded"));
  p.trapAfter = big(o.Get("trapAfter"));
  p.miss = big(o.Get("miss"));
  p.original = *bytesFrom(o.Get("original"));
  if (o.Has("flagsDead")) {
    if (!o.Get("flagsDead").IsBoolean() && !o.Get("flagsDead").IsUndefined()) return false;
    p.flagsDead = o.Get("flagsDead").ToBoolean().Value();
  }
  return true;
}

namespace {

Value ReachPoint(const CallbackInfo& info) {
  const char* usage =
      "reachPoint(tracee: Tracee, { pc: bigint, regs: Buffer (216), hash: Buffer (16), excluded: bigint[], trapAfter: bigint, "
      "miss: bigint, original: Buffer, budgetTicks: number, flagsDead?: boolean }): { found, why, candidates }";
  USAGE_CHECK(info.Length() == 2 && isTracee(info.Env(), info[0]) && info[1].IsObject(), usage);
  Napi::Object o = info[1].As<Napi::Object>();
  PointSearch p;
  USAGE_CHECK(pointSearchFrom(o, p) && o.Get("budgetTicks").IsNumber(), usage);
  TraceePtr t = traceeFrom(info.Env(), info[0]);
  if (!t) return closedTracee(info, usage);
  p.budgetTicks = uint64_t(o.Get("budgetTicks").As<Napi::Number>().Int64Value());
  return submitToTracer(info.Env(), usage, [t, p] {
    PointFound f = reachPoint(*t, p);
    Outcome out;
    out.build = [f](Napi::Env env) {
      Napi::Object r = Napi::Object::New(env);
      r.Set("found", f.found);
      r.Set("why", f.why);
      r.Set("candidates", Napi::Number::New(env, double(f.candidates)));
      return r;
    };
    return out;
  });
}

Value DeliverAtPoint(const CallbackInfo& info) {
  const char* usage = "replayDeliverAtPoint(tracee: Tracee, signal: number, siginfo: Buffer (128))";
  USAGE_CHECK(info.Length() == 3 && isTracee(info.Env(), info[0]) && info[1].IsNumber() && info[2].IsBuffer() &&
                  info[2].As<Napi::Buffer<uint8_t>>().Length() == sizeof(siginfo_t),
              usage);
  TraceePtr t = traceeFrom(info.Env(), info[0]);
  if (!t) return closedTracee(info, usage);
  int sig = info[1].As<Napi::Number>().Int32Value();
  siginfo_t si;
  std::memcpy(&si, info[2].As<Napi::Buffer<uint8_t>>().Data(), sizeof si);
  return submitToTracer(info.Env(), usage, [t, sig, si] {
    t->replay.pendingSig = sig;
    t->replay.pendingInfo = si;
    return nothing();
  });
}

}  // namespace

void registerPointExports(Napi::Env env, Napi::Object exports) {
  exports.Set("stateHash", Napi::Function::New(env, StateHashJs));
  exports.Set("reachPoint", Napi::Function::New(env, ReachPoint));
  exports.Set("replayDeliverAtPoint", Napi::Function::New(env, DeliverAtPoint));
}

}  // namespace rw
