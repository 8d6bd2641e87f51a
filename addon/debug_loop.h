// Debugging a replay: breakpoints, debug registers, stepping and interrupts around
// the native replay loop (see DebugHook in replay_loop.h). JS surface: src/native/addon.ts.
#pragma once
#include <napi.h>

namespace rw {

void registerDebugExports(Napi::Env env, Napi::Object exports);

}  // namespace rw
