// sysemuCounts(): what the replays of this process did with PTRACE_SYSEMU
// (replay_sysemu.h), for REWIND_TRACE_RUNS and for tests. Synchronous: the counts
// are atomics the tracer thread adds to.
#include "sysemu_exports.h"

#include "replay_sigaction.h"
#include "replay_sysemu.h"

namespace rw {
namespace {

Napi::Value SysemuCountsJs(const Napi::CallbackInfo& info) {
  SysemuCounts c = sysemuCounts();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("skipped", Napi::Number::New(info.Env(), double(c.skipped)));
  o.Set("reentered", Napi::Number::New(info.Env(), double(c.reentered)));
  o.Set("left", Napi::Number::New(info.Env(), double(c.left)));
  o.Set("sigactions", Napi::Number::New(info.Env(), double(sigactionsAnsweredCount())));
  return o;
}

}  // namespace

void registerSysemuExports(Napi::Env env, Napi::Object exports) {
  exports.Set("sysemuCounts", Napi::Function::New(env, SysemuCountsJs));
}

}  // namespace rw
