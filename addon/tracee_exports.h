// The JS class `Tracee` (tracee_exports.cc): a replayed process as an object whose
// lifetime JS owns. Other exports hand back the tracees the addon makes
// (wrapTracee) and take a Tracee argument (traceeFrom).
#pragma once
#include <napi.h>

#include "tracee.h"

namespace rw {

// A new JS Tracee holding `t` (on the JS thread, in a job's result).
Napi::Value wrapTracee(Napi::Env env, TraceePtr t);
// The native tracee of a JS Tracee; null when `v` is none, or was closed.
TraceePtr traceeFrom(Napi::Env env, const Napi::Value& v);
// True when `v` is a JS Tracee (open or closed).
bool isTracee(Napi::Env env, const Napi::Value& v);

void registerTraceeExports(Napi::Env env, Napi::Object exports);

}  // namespace rw
