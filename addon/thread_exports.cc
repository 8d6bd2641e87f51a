// forkThreads (a copy of every thread of a stopped process, thread_copy.h), and
// resume/waitStop: a thread set going, and the next stop of one thread waited for
// apart, which a process whose threads wait for each other needs (resumeAndWait
// would wait for one while the thread it waits on stays stopped).
#include "thread_exports.h"

#include <sys/ptrace.h>

#include <memory>
#include <string>

#include "js_args.h"
#include "ptrace_ops.h"
#include "thread_copy.h"
#include "tracer_thread.h"

namespace rw {
namespace {

using Napi::CallbackInfo;
using Napi::Value;

Value ForkThreads(const CallbackInfo& info) {
  const char* usage = "forkThreads(pid, insnAddr: bigint): { original, copy }[] (pid's first)";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBigInt(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t insn = big(info[1]);
  USAGE_CHECK(pid > 0, usage);
  return submitToTracer(info.Env(), usage, [pid, insn] {
    auto pairs = std::make_shared<std::vector<ThreadCopy>>(forkCopyThreads(pid, insn, nullptr));
    Outcome o;
    o.build = [pairs](Napi::Env env) {
      Napi::Array a = Napi::Array::New(env, pairs->size());
      for (uint32_t i = 0; i < pairs->size(); i++) {
        Napi::Object p = Napi::Object::New(env);
        p.Set("original", (*pairs)[i].original);
        p.Set("copy", (*pairs)[i].copy);
        a.Set(i, p);
      }
      return a;
    };
    return o;
  });
}

Value Resume(const CallbackInfo& info) {
  const char* usage = "resume(tid, mode: 'cont'|'syscall'|'step', signal: number)";
  USAGE_CHECK(info.Length() == 3 && info[0].IsNumber() && info[1].IsString() && info[2].IsNumber(), usage);
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  std::string mode = info[1].As<Napi::String>().Utf8Value();
  int sig = info[2].As<Napi::Number>().Int32Value();
  int req = mode == "cont" ? PTRACE_CONT : mode == "syscall" ? PTRACE_SYSCALL : mode == "step" ? PTRACE_SINGLESTEP : -1;
  USAGE_CHECK(req != -1 && tid > 0 && sig >= 0 && sig < 65, usage);
  return submitToTracer(info.Env(), usage, [tid, req, sig] {
    resume(tid, req, sig);
    return nothing();
  });
}

Value WaitStop(const CallbackInfo& info) {
  const char* usage = "waitStop(tid): { kind, signal, event, code } (the next stop of a tracee)";
  USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  USAGE_CHECK(tid > 0, usage);
  return submitToTracer(info.Env(), usage, [tid] {
    Stop s = waitStop(tid);
    Outcome o;
    o.build = [s](Napi::Env env) {
      static const char* kinds[] = {"syscall", "signal", "event", "exited", "killed"};
      Napi::Object r = Napi::Object::New(env);
      r.Set("kind", kinds[s.kind]);
      r.Set("signal", s.sig);
      r.Set("event", s.event);
      r.Set("code", s.code);
      return r;
    };
    return o;
  });
}

}  // namespace

void registerThreadExports(Napi::Env env, Napi::Object exports) {
  exports.Set("forkThreads", Napi::Function::New(env, ForkThreads));
  exports.Set("resume", Napi::Function::New(env, Resume));
  exports.Set("waitStop", Napi::Function::New(env, WaitStop));
}

}  // namespace rw
