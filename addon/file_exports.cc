// The addon's JS surface for files and the terminal (the record and replay of
// mapped files, the terminal handed to a recorded program). Typed in
// src/native/addon.ts.
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "js_args.h"
#include "ptrace_ops.h"
#include "replay_files.h"

namespace rw {
namespace {

using Napi::CallbackInfo;
using Napi::Value;

// Synchronous: the [start, end) ranges of `path` between from and to that hold data
// (SEEK_DATA/SEEK_HOLE), so that holes of a sparse file are never read.
Value FileDataExtents(const CallbackInfo& info) {
  const char* usage = "fileDataExtents(path: string, from: number, to: number): number[] (start, end pairs)";
  USAGE_CHECK(info.Length() == 3 && info[0].IsString() && info[1].IsNumber() && info[2].IsNumber(), usage);
  std::string path = info[0].As<Napi::String>().Utf8Value();
  off_t from = off_t(info[1].As<Napi::Number>().Int64Value()), to = off_t(info[2].As<Napi::Number>().Int64Value());
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Napi::Error::New(info.Env(), "open " + path + ": " + strerror(errno)).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  Napi::Array out = Napi::Array::New(info.Env());
  uint32_t n = 0;
  for (off_t at = from; at < to;) {
    off_t data = lseek(fd, at, SEEK_DATA);
    if (data < 0 && errno != ENXIO) {  // no SEEK_DATA here: the whole range is data
      out.Set(n++, Napi::Number::New(info.Env(), double(at)));
      out.Set(n++, Napi::Number::New(info.Env(), double(to)));
      break;
    }
    if (data < 0 || data >= to) break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0 || hole > to) hole = to;
    out.Set(n++, Napi::Number::New(info.Env(), double(data)));
    out.Set(n++, Napi::Number::New(info.Env(), double(hole)));
    at = hole;
  }
  close(fd);
  return out;
}

Value RestoreTerminal(const CallbackInfo& info) {
  restoreTerminal();
  return info.Env().Undefined();
}

Value EmuUnshare(const CallbackInfo& info) {
  const char* usage = "emuUnshare(pid, fd)";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsNumber(), usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int fd = info[1].As<Napi::Number>().Int32Value();
  return submitToTracer(info.Env(), usage, [pid, fd] {
    emuUnshare(pid, fd);
    return nothing();
  });
}

}  // namespace

void registerFileExports(Napi::Env env, Napi::Object exports) {
  exports.Set("fileDataExtents", Napi::Function::New(env, FileDataExtents));
  exports.Set("restoreTerminal", Napi::Function::New(env, RestoreTerminal));
  exports.Set("emuUnshare", Napi::Function::New(env, EmuUnshare));
}

}  // namespace rw
