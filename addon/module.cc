// The JS surface of the addon: thin wrappers that validate arguments on the JS
// thread and run the ptrace work on the tracer thread. Typed in src/native/addon.ts.
#include <napi.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include <array>
#include <cstring>
#include <memory>

#include "cpuid_emulation.h"
#include "debug_exports.h"
#include "js_args.h"
#include "loop_result.h"
#include "ptrace_ops.h"
#include "replay_loop.h"
#include "sysemu_exports.h"
#include "thread_exports.h"
#include "tracee_exports.h"
#include "tracer_thread.h"

namespace rw {

void registerFileExports(Napi::Env env, Napi::Object exports);  // file_exports.cc
void registerRecordingExports(Napi::Env env, Napi::Object exports);  // recording_exports.cc
void registerPointExports(Napi::Env env, Napi::Object exports);  // point_exports.cc
void registerCodecExports(Napi::Env env, Napi::Object exports);  // codecs.cc

Napi::Object loopResultToJs(Napi::Env env, LoopResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("events", Napi::Buffer<uint8_t>::Copy(env, r.events.data(), r.events.size()));
  o.Set("count", Napi::Number::New(env, r.eventCount));
  o.Set("consumed", Napi::Number::New(env, double(r.consumed)));
  o.Set("served", Napi::Number::New(env, r.served));
  Napi::Array echo = Napi::Array::New(env, r.echo.size());
  for (size_t i = 0; i < r.echo.size(); i++) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("fd", r.echo[i].first);
    e.Set("data", Napi::Buffer<uint8_t>::Copy(env, r.echo[i].second.data(), r.echo[i].second.size()));
    echo.Set(uint32_t(i), e);
  }
  o.Set("echo", echo);
  o.Set("stop", r.stop.toJs(env));
  Napi::Array slices = Napi::Array::New(env, r.slices.size());
  for (size_t i = 0; i < r.slices.size(); i++) {
    Napi::Object slice = r.slices[i].toJs(env);
    if (i < r.sliceCopies.size()) slice.Set("tracee", wrapTracee(env, r.sliceCopies[i]));
    // a copy of a process that made threads: its other threads (maybe none left), by recorded tid
    if (i < r.sliceThreads.size() && !r.sliceThreads[i].empty())
      slice.Set("threads", replayedCopyToJs(env, std::vector<TraceePtr>(r.sliceThreads[i].begin() + 1, r.sliceThreads[i].end())));
    slices.Set(uint32_t(i), slice);
  }
  o.Set("slices", slices);
  if (r.child) o.Set("child", wrapTracee(env, r.child));
  return o;
}

namespace {

using Napi::CallbackInfo;
using Napi::Value;

std::vector<std::string> strings(const Napi::Value& v) {
  std::vector<std::string> out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

Value Configure(const CallbackInfo& info) {
  const char* usage = "configure({ cpu: number })";
  USAGE_CHECK(info.Length() == 1 && info[0].IsObject(), usage);
  Napi::Object o = info[0].As<Napi::Object>();
  if (o.Has("cpu")) setTracerCpu(o.Get("cpu").As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Value Spawn(const CallbackInfo& info) {
  const char* usage = "spawn({ path, argv, envp, cwd, cpu, trapTsc, traceForks, stdio: [in, out, err], nonBlocking: [bool?, bool?, bool?] })";
  USAGE_CHECK(info.Length() == 1 && info[0].IsObject(), usage);
  Napi::Object o = info[0].As<Napi::Object>();
  SpawnOptions opts;
  opts.path = o.Get("path").As<Napi::String>().Utf8Value();
  opts.argv = strings(o.Get("argv"));
  opts.envp = strings(o.Get("envp"));
  if (o.Has("cwd")) opts.cwd = o.Get("cwd").As<Napi::String>().Utf8Value();
  opts.cpu = tracerCpu();
  if (o.Has("trapTsc")) opts.trapTsc = o.Get("trapTsc").ToBoolean();
  if (o.Has("traceForks")) opts.traceForks = o.Get("traceForks").ToBoolean();
  if (o.Has("newProcessGroup")) opts.newProcessGroup = o.Get("newProcessGroup").ToBoolean();
  if (o.Has("stdio") && o.Get("stdio").IsArray()) {
    Napi::Array s = o.Get("stdio").As<Napi::Array>();
    opts.stdinFd = s.Get(0u).As<Napi::Number>().Int32Value();
    opts.stdoutFd = s.Get(1u).As<Napi::Number>().Int32Value();
    opts.stderrFd = s.Get(2u).As<Napi::Number>().Int32Value();
  }
  if (o.Has("nonBlocking") && o.Get("nonBlocking").IsArray()) {
    Napi::Array nb = o.Get("nonBlocking").As<Napi::Array>();
    USAGE_CHECK(nb.Length() <= 3, usage);
    for (uint32_t fd = 0; fd < nb.Length(); fd++) {
      Napi::Value v = nb.Get(fd);
      USAGE_CHECK(v.IsBoolean() || v.IsUndefined(), usage);
      if (v.IsBoolean()) opts.nonBlocking[fd] = v.ToBoolean() ? 1 : 0;
    }
  }
  return submitToTracer(info.Env(), usage, [opts] { return number(spawnTracee(opts)); });
}

Value GetRegs(const CallbackInfo& info) {
  const char* usage = "getRegs(pid): Buffer (struct user_regs_struct)";
  USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  return submitToTracer(info.Env(), usage, [pid] {
    user_regs_struct r = getRegs(pid);
    Outcome o;
    o.build = [r](Napi::Env env) { return Napi::Buffer<uint8_t>::Copy(env, (const uint8_t*)&r, sizeof r); };
    return o;
  });
}

Value SetRegs(const CallbackInfo& info) {
  const char* usage = "setRegs(pid, regs: Buffer of 216 bytes)";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsBuffer() &&
                  info[1].As<Napi::Buffer<uint8_t>>().Length() == sizeof(user_regs_struct),
              usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  user_regs_struct r;
  std::memcpy(&r, info[1].As<Napi::Buffer<uint8_t>>().Data(), sizeof r);
  return submitToTracer(info.Env(), usage, [pid, r] {
    setRegs(pid, r);
    return nothing();
  });
}

// Raw memory of any stopped tracee by pid (a recorded process). A replayed process's
// memory is read through its Tracee, which knows its patched CPUID sites.
Value ReadMemory(const CallbackInfo& info) {
  const char* usage = "readMemory(pid, addr: bigint, length: number): Buffer (short if unreadable)";
  USAGE_CHECK(info.Length() == 3 && info[0].IsNumber() && info[1].IsBigInt() && info[2].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = big(info[1]);
  size_t len = size_t(info[2].As<Napi::Number>().Int64Value());
  return submitToTracer(info.Env(), usage, [pid, addr, len] {
    auto buf = std::make_shared<std::vector<uint8_t>>(len);
    buf->resize(readMemory(pid, addr, buf->data(), len));
    Outcome o;
    o.build = [buf](Napi::Env env) { return Napi::Buffer<uint8_t>::Copy(env, buf->data(), buf->size()); };
    return o;
  });
}

Value WriteMemory(const CallbackInfo& info) {
  const char* usage = "writeMemory(pid, addr: bigint, data: Buffer)";
  USAGE_CHECK(info.Length() == 3 && info[0].IsNumber() && info[1].IsBigInt() && info[2].IsBuffer(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = big(info[1]);
  auto data = bytesFrom(info[2]);
  return submitToTracer(info.Env(), usage, [pid, addr, data] {
    writeMemory(pid, addr, data->data(), data->size());
    return nothing();
  });
}

Value InjectSyscall(const CallbackInfo& info) {
  const char* usage = "injectSyscall(pid, insnAddr: bigint, nr: number, args: bigint[6]): bigint";
  USAGE_CHECK(info.Length() == 4 && info[0].IsNumber() && info[1].IsBigInt() && info[2].IsNumber() &&
                  info[3].IsArray() && info[3].As<Napi::Array>().Length() == 6,
              usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t insn = big(info[1]);
  int64_t nr = info[2].As<Napi::Number>().Int64Value();
  std::array<uint64_t, 6> args;
  for (uint32_t i = 0; i < 6; i++) args[i] = big(info[3].As<Napi::Array>().Get(i));
  return submitToTracer(info.Env(), usage, [pid, insn, nr, args] {
    int64_t r = injectSyscall(pid, insn, nr, args.data());
    Outcome o;
    o.build = [r](Napi::Env env) { return Napi::BigInt::New(env, r); };
    return o;
  });
}

Value ResumeAndWait(const CallbackInfo& info) {
  const char* usage = "resumeAndWait(pid, mode: 'cont'|'syscall'|'step', signal: number)";
  USAGE_CHECK(info.Length() == 3 && info[0].IsNumber() && info[1].IsString() && info[2].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  std::string mode = info[1].As<Napi::String>().Utf8Value();
  int sig = info[2].As<Napi::Number>().Int32Value();
  int req = mode == "cont" ? PTRACE_CONT : mode == "syscall" ? PTRACE_SYSCALL : mode == "step" ? PTRACE_SINGLESTEP : -1;
  USAGE_CHECK(req != -1, usage);
  return submitToTracer(info.Env(), usage, [pid, req, sig] {
    resume(pid, req, sig);
    Stop s = waitStop(pid);
    return waitResult(s);
  });
}

Value Kill(const CallbackInfo& info) {
  const char* usage = "kill(pid)";
  USAGE_CHECK(info.Length() == 1 && info[0].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  // Only a process the tracer thread traces: any other pid (the recorder's or node's
  // own children, a process that is gone) is left alone and the call resolves false.
  // There is no table of pids to consult: the kernel says whose tracee it is.
  return submitToTracer(info.Env(), usage, [pid] {
    bool killed = tracedByThisThread(pid) && killTracee(pid);
    Outcome o;
    o.build = [killed](Napi::Env env) { return Napi::Boolean::New(env, killed); };
    return o;
  });
}

}  // namespace

// CPUID cannot be trapped on machines without CPUID faulting: the recording
// keeps the answers that decide glibc's code paths, and replay compares them.
Value CpuidLeaves(const CallbackInfo& info) {
  const char* usage = "cpuidLeaves(): number[][] ([leaf, subleaf, eax, ebx, ecx, edx] on the tracer's CPU)";
  return submitToTracer(info.Env(), usage, [] {
    static const uint32_t leaves[][2] = {{0, 0}, {1, 0}, {7, 0}, {7, 1}, {0xd, 0}, {0xd, 1},
                                         {0x80000000, 0}, {0x80000001, 0}, {0x80000008, 0}};
    auto rows = std::make_shared<std::vector<std::array<uint32_t, 6>>>();
    for (auto& l : leaves) {
      uint32_t a, b, c, d;
      hostCpuid(l[0], l[1], a, b, c, d);
      if (l[0] == 1) b &= 0x00ffffff;  // the initial APIC id says which CPU ran it, not what it can do
      rows->push_back({l[0], l[1], a, b, c, d});
    }
    Outcome o;
    o.build = [rows](Napi::Env env) {
      Napi::Array out = Napi::Array::New(env, rows->size());
      for (size_t i = 0; i < rows->size(); i++) {
        Napi::Array r = Napi::Array::New(env, 6);
        for (uint32_t k = 0; k < 6; k++) r.Set(k, Napi::Number::New(env, (*rows)[i][k]));
        out.Set(uint32_t(i), r);
      }
      return out;
    };
    return o;
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("configure", Napi::Function::New(env, Configure));
  exports.Set("spawn", Napi::Function::New(env, Spawn));
  exports.Set("getRegs", Napi::Function::New(env, GetRegs));
  exports.Set("setRegs", Napi::Function::New(env, SetRegs));
  exports.Set("readMemory", Napi::Function::New(env, ReadMemory));
  exports.Set("writeMemory", Napi::Function::New(env, WriteMemory));
  exports.Set("injectSyscall", Napi::Function::New(env, InjectSyscall));
  exports.Set("resumeAndWait", Napi::Function::New(env, ResumeAndWait));
  exports.Set("kill", Napi::Function::New(env, Kill));
  exports.Set("cpuidLeaves", Napi::Function::New(env, CpuidLeaves));
  registerTraceeExports(env, exports);
  registerDebugExports(env, exports);
  registerFileExports(env, exports);
  registerRecordingExports(env, exports);
  registerCpuidExports(env, exports);
  registerThreadExports(env, exports);
  registerPointExports(env, exports);
  registerCodecExports(env, exports);
  registerSysemuExports(env, exports);
  return exports;
}

}  // namespace rw

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return rw::Init(env, exports); }
NODE_API_MODULE(rewind_native, InitModule)
