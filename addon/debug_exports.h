// The debugger's JS exports (debug_exports.cc): debugging a replay with the
// Debugger of debugger.h. JS surface: src/native/addon.ts.
#pragma once
#include <napi.h>

namespace rw {

void registerDebugExports(Napi::Env env, Napi::Object exports);

}  // namespace rw
