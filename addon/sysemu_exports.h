// sysemuCounts() for JS (sysemu_exports.cc).
#pragma once
#include <napi.h>

namespace rw {

void registerSysemuExports(Napi::Env env, Napi::Object exports);

}  // namespace rw
