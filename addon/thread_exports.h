// The JS exports of threads (thread_exports.cc): copies of a multi-threaded
// process, and driving its threads one by one. JS surface: src/native/addon.ts.
#pragma once
#include <napi.h>

#include <vector>

#include "tracee.h"

namespace rw {

// forkReplayed's result (replay_thread_copy.h) as JS: { recordedTid, tracee }[].
Napi::Value replayedCopyToJs(Napi::Env env, const std::vector<TraceePtr>& copies);

void registerThreadExports(Napi::Env env, Napi::Object exports);

}  // namespace rw
