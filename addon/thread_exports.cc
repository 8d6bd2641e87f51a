// forkThreads (a copy of every thread of a stopped process, thread_copy.h),
// forkReplayed (the same of a replayed process, each copied thread with its replay:
// replay_thread_copy.h), and
// resume/waitStop: a thread set going, and the next stop of one thread waited for
// apart, which a process whose threads wait for each other needs (resumeAndWait
// would wait for one while the thread it waits on stays stopped); execFromThread,
// the exec a thread other than the first makes in replay (replay_thread_exec.h);
// injectSyscallInThread, a syscall run in a thread from any stop the replay left it
// in (thread_inject.h).
#include "thread_exports.h"

#include <sys/ptrace.h>

#include <array>
#include <memory>
#include <string>

#include "js_args.h"
#include "ptrace_ops.h"
#include "replay_thread_copy.h"
#include "replay_thread_exec.h"
#include "thread_copy.h"
#include "thread_inject.h"
#include "tracee_exports.h"
#include "tracer_thread.h"

namespace rw {
namespace {

using Napi::CallbackInfo;
using Napi::Value;

// A closed Tracee passed in: a bug in the caller, said as a closed Tracee's own calls say it.
Value closedTracee(const CallbackInfo& info, const char* usage) {
  auto d = Napi::Promise::Deferred::New(info.Env());
  Napi::Error e = Napi::Error::New(info.Env(), std::string("the tracee was closed (usage: ") + usage + ")");
  e.Set("code", Napi::String::New(info.Env(), "EDISPOSED"));
  d.Reject(e.Value());
  return d.Promise();
}

Value ForkThreads(const CallbackInfo& info) {
  const char* usage = "forkThreads(tracee: Tracee, caller: number (one of its threads), insnAddr: bigint): "
                      "{ tracee: Tracee, threads: { original, copy }[] }";
  USAGE_CHECK(info.Length() == 3 && isTracee(info.Env(), info[0]) && info[1].IsNumber() && info[2].IsBigInt(), usage);
  TraceePtr t = traceeFrom(info.Env(), info[0]);
  pid_t caller = info[1].As<Napi::Number>().Int32Value();
  uint64_t insn = big(info[2]);
  USAGE_CHECK(caller > 0, usage);
  if (!t) return closedTracee(info, usage);
  return submitToTracer(info.Env(), usage, [t, caller, insn] {
    auto copy = std::make_shared<ThreadsCopy>(forkCopyThreads(*t, caller, insn, nullptr));
    Outcome o;
    o.build = [copy](Napi::Env env) {
      Napi::Array a = Napi::Array::New(env, copy->threads.size());
      for (uint32_t i = 0; i < copy->threads.size(); i++) {
        Napi::Object p = Napi::Object::New(env);
        p.Set("original", copy->threads[i].original);
        p.Set("copy", copy->threads[i].copy);
        a.Set(i, p);
      }
      Napi::Object r = Napi::Object::New(env);
      r.Set("tracee", wrapTracee(env, copy->process));
      r.Set("threads", a);
      return r;
    };
    return o;
  });
}

Value ForkReplayed(const CallbackInfo& info) {
  const char* usage = "forkReplayed(tracee: Tracee (a thread of a replayed process), insnAddr: bigint): "
                      "{ recordedTid, tracee: Tracee }[] (the copy of every thread, tracee's first)";
  USAGE_CHECK(info.Length() == 2 && isTracee(info.Env(), info[0]) && info[1].IsBigInt(), usage);
  TraceePtr t = traceeFrom(info.Env(), info[0]);
  uint64_t insn = big(info[1]);
  if (!t) return closedTracee(info, usage);
  return submitToTracer(info.Env(), usage, [t, insn] {
    auto copies = std::make_shared<std::vector<TraceePtr>>(forkReplayedProcess(*t, insn, nullptr));
    Outcome o;
    o.build = [copies](Napi::Env env) { return replayedCopyToJs(env, *copies); };
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
    return waitResult(s);
  });
}

Value ExecFromThread(const CallbackInfo& info) {
  const char* usage = "execFromThread(leader: Tracee, thread: Tracee) (thread stands at an execve's entry, "
                      "its registers set for the exec: replay_thread_exec.h)";
  USAGE_CHECK(info.Length() == 2 && isTracee(info.Env(), info[0]) && isTracee(info.Env(), info[1]), usage);
  TraceePtr leader = traceeFrom(info.Env(), info[0]), thread = traceeFrom(info.Env(), info[1]);
  if (!leader || !thread) {
    auto d = Napi::Promise::Deferred::New(info.Env());
    Napi::Error e = Napi::Error::New(info.Env(), std::string("the tracee was closed (usage: ") + usage + ")");
    e.Set("code", Napi::String::New(info.Env(), "EDISPOSED"));
    d.Reject(e.Value());
    return d.Promise();
  }
  return submitToTracer(info.Env(), usage, [leader, thread] {
    execFromThread(*leader, *thread);
    return nothing();
  });
}

Value InjectSyscallInThread(const CallbackInfo& info) {
  const char* usage = "injectSyscallInThread(tid, insnAddr: bigint, nr: number, args: bigint[6]): bigint "
                      "(the thread may stand at a syscall's entry: thread_inject.h)";
  USAGE_CHECK(info.Length() == 4 && info[0].IsNumber() && info[1].IsBigInt() && info[2].IsNumber() &&
                  info[3].IsArray() && info[3].As<Napi::Array>().Length() == 6,
              usage);
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  USAGE_CHECK(tid > 0, usage);
  uint64_t insn = big(info[1]);
  int64_t nr = info[2].As<Napi::Number>().Int64Value();
  std::array<uint64_t, 6> args;
  for (uint32_t i = 0; i < 6; i++) args[i] = big(info[3].As<Napi::Array>().Get(i));
  return submitToTracer(info.Env(), usage, [tid, insn, nr, args] {
    int64_t r = injectSyscallInThread(tid, insn, nr, args.data());
    Outcome o;
    o.build = [r](Napi::Env env) { return Napi::BigInt::New(env, r); };
    return o;
  });
}

}  // namespace

Napi::Value replayedCopyToJs(Napi::Env env, const std::vector<TraceePtr>& copies) {
  Napi::Array a = Napi::Array::New(env, copies.size());
  for (uint32_t i = 0; i < copies.size(); i++) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("recordedTid", copies[i]->replay.recordedTid);
    p.Set("tracee", wrapTracee(env, copies[i]));
    a.Set(i, p);
  }
  return a;
}

void registerThreadExports(Napi::Env env, Napi::Object exports) {
  exports.Set("forkThreads", Napi::Function::New(env, ForkThreads));
  exports.Set("forkReplayed", Napi::Function::New(env, ForkReplayed));
  exports.Set("resume", Napi::Function::New(env, Resume));
  exports.Set("waitStop", Napi::Function::New(env, WaitStop));
  exports.Set("execFromThread", Napi::Function::New(env, ExecFromThread));
  exports.Set("injectSyscallInThread", Napi::Function::New(env, InjectSyscallInThread));
}

}  // namespace rw
