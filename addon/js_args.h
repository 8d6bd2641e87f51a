// Argument checking and result helpers shared by the addon's JS-facing functions
// (module.cc, debug_exports.cc).
#pragma once
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ptrace_ops.h"
#include "syscall_abi.h"
#include "tracer_thread.h"

// Throws a TypeError carrying the function's usage line and returns undefined.
#define USAGE_CHECK(cond, usage)                                                            \
  if (!(cond)) {                                                                            \
    Napi::TypeError::New(info.Env(), std::string("bad arguments (usage: ") + usage + ")")  \
        .ThrowAsJavaScriptException();                                                      \
    return info.Env().Undefined();                                                          \
  }

namespace rw {

inline uint64_t big(const Napi::Value& v) {
  bool lossless;
  return v.As<Napi::BigInt>().Uint64Value(&lossless);
}

// The declarative syscall table, copied off the JS heap for the tracer thread.
inline std::vector<Row> tableFrom(const Napi::Value& v) {
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  std::vector<Row> rows(kTableRows);
  std::memcpy(rows.data(), a.Data(), std::min<size_t>(a.ElementLength() * 4, rows.size() * sizeof(Row)));
  return rows;
}

// A Buffer's bytes, copied off the JS heap for the tracer thread.
inline std::shared_ptr<std::vector<uint8_t>> bytesFrom(const Napi::Value& v) {
  auto b = v.As<Napi::Buffer<uint8_t>>();
  return std::make_shared<std::vector<uint8_t>>(b.Data(), b.Data() + b.Length());
}

inline Outcome number(double v) {
  Outcome o;
  o.build = [v](Napi::Env env) { return Napi::Number::New(env, v); };
  return o;
}

// A stop as JS sees it (NativeWaitResult in src/native/addon.ts).
inline Outcome waitResult(const Stop& s) {
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
}

inline Outcome nothing() {
  Outcome o;
  o.build = [](Napi::Env env) { return env.Undefined(); };
  return o;
}

}  // namespace rw
