// The JS exports of threads (thread_exports.cc): copies of a multi-threaded
// process, and driving its threads one by one. JS surface: src/native/addon.ts.
#pragma once
#include <napi.h>

namespace rw {

void registerThreadExports(Napi::Env env, Napi::Object exports);

}  // namespace rw
