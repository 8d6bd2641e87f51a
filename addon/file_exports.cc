// The addon's JS surface for files and the terminal (the record and replay of
// mapped files, the terminal handed to a recorded program). Typed in
// src/native/addon.ts.
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "js_args.h"
#include "ptrace_ops.h"
#include "replay_emu_map.h"
#include "replay_files.h"
#include "replay_images.h"

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

// A map-file event of an emulated file, in one job (replay_emu_map.h). Resolves to
// the emulated file's fd in the process.
Value EmuMapFile(const CallbackInfo& info) {
  const char* usage =
      "emuMapFile(pid, { identity: string, fileSize: bigint, fill: boolean, offset: bigint, length: bigint, "
      "pieces: [bigint, Buffer][], addr: bigint, mapLength: bigint, prot: number, mapOffset: bigint, shared: boolean, "
      "readOnly: boolean }): number";
  USAGE_CHECK(info.Length() == 2 && info[0].IsNumber() && info[1].IsObject(), usage);
  Napi::Object o = info[1].As<Napi::Object>();
  const char* bigs[] = {"fileSize", "offset", "length", "addr", "mapLength", "mapOffset"};
  for (const char* k : bigs) USAGE_CHECK(o.Get(k).IsBigInt(), usage);
  USAGE_CHECK(o.Get("identity").IsString() && o.Get("prot").IsNumber() && o.Get("pieces").IsArray() &&
                  o.Get("fill").IsBoolean() && o.Get("shared").IsBoolean() && o.Get("readOnly").IsBoolean(),
              usage);
  EmuMapSpec s;
  s.identity = o.Get("identity").As<Napi::String>().Utf8Value();
  s.fileSize = big(o.Get("fileSize"));
  s.fill = o.Get("fill").As<Napi::Boolean>().Value();
  s.offset = big(o.Get("offset"));
  s.length = big(o.Get("length"));
  s.addr = big(o.Get("addr"));
  s.mapLength = big(o.Get("mapLength"));
  s.mapOffset = big(o.Get("mapOffset"));
  s.prot = uint64_t(o.Get("prot").As<Napi::Number>().Int64Value());
  s.shared = o.Get("shared").As<Napi::Boolean>().Value();
  s.readOnly = o.Get("readOnly").As<Napi::Boolean>().Value();
  Napi::Array pieces = o.Get("pieces").As<Napi::Array>();
  for (uint32_t i = 0; i < pieces.Length(); i++) {
    Napi::Value p = pieces.Get(i);
    USAGE_CHECK(p.IsArray() && p.As<Napi::Array>().Get(0u).IsBigInt() && p.As<Napi::Array>().Get(1u).IsBuffer(), usage);
    s.pieces.emplace_back(big(p.As<Napi::Array>().Get(0u)), bytesFrom(p.As<Napi::Array>().Get(1u)));
  }
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  return submitToTracer(info.Env(), usage, [pid, s = std::move(s)] { return number(emuMapFile(pid, s)); });
}

// A stored file (an ELF image of the trace) mapped privately into a stopped tracee:
// its path written at `scratch`, then openat, mmap and close injected at `insn`, in
// one job (src/replay/stored-mappings.ts). Resolves to mmap's result, or the
// negative errno of openat.
Value MapFileInto(const CallbackInfo& info) {
  const char* usage =
      "mapFileInto(pid, insnAddr: bigint, scratch: bigint, path: string, addr: bigint, length: bigint, prot: number, offset: bigint): bigint";
  USAGE_CHECK(info.Length() == 8 && info[0].IsNumber() && info[1].IsBigInt() && info[2].IsBigInt() && info[3].IsString() &&
                  info[4].IsBigInt() && info[5].IsBigInt() && info[6].IsNumber() && info[7].IsBigInt(),
              usage);
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t insn = big(info[1]), scratch = big(info[2]), addr = big(info[4]), length = big(info[5]), offset = big(info[7]);
  std::string path = info[3].As<Napi::String>().Utf8Value();
  uint64_t prot = uint64_t(info[6].As<Napi::Number>().Int64Value());
  return submitToTracer(info.Env(), usage, [=] {
    int64_t r = mapTraceFile(pid, insn, scratch, path, addr, length, prot, offset);
    Outcome o;
    o.build = [r](Napi::Env env) { return Napi::BigInt::New(env, r); };
    return o;
  });
}

// Replay: the checked trace file of the ELF image `sha`; the replay loop maps later
// map-file events of it itself (replay_images.h). A job, so that it applies before
// the next run.
Value ReplayKnowImage(const CallbackInfo& info) {
  const char* usage = "replayKnowImage(sha: string, path: string, sites: number[] | null)";
  USAGE_CHECK(info.Length() == 3 && info[0].IsString() && info[1].IsString() && (info[2].IsNull() || info[2].IsArray()),
              usage);
  std::string sha = info[0].As<Napi::String>().Utf8Value(), path = info[1].As<Napi::String>().Utf8Value();
  bool patch = info[2].IsArray();
  std::vector<uint64_t> sites;
  if (patch) {
    Napi::Array a = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) sites.push_back(uint64_t(a.Get(i).As<Napi::Number>().Int64Value()));
  }
  return submitToTracer(info.Env(), usage, [sha, path, patch, sites] {
    replayKnowImage(sha, path, patch, sites);
    return nothing();
  });
}

// Replay: the trace's checked file of piece `sha`; the replay loop applies later
// map-file events of emulated files whose pieces it knows (replay_emu_map.h). A
// job, so that it applies before the next run.
Value ReplayKnowPiece(const CallbackInfo& info) {
  const char* usage = "replayKnowPiece(sha: string, path: string)";
  USAGE_CHECK(info.Length() == 2 && info[0].IsString() && info[1].IsString(), usage);
  std::string sha = info[0].As<Napi::String>().Utf8Value(), path = info[1].As<Napi::String>().Utf8Value();
  return submitToTracer(info.Env(), usage, [sha, path] {
    replayKnowPiece(sha, path);
    return nothing();
  });
}

}  // namespace

void registerFileExports(Napi::Env env, Napi::Object exports) {
  exports.Set("fileDataExtents", Napi::Function::New(env, FileDataExtents));
  exports.Set("restoreTerminal", Napi::Function::New(env, RestoreTerminal));
  exports.Set("emuUnshare", Napi::Function::New(env, EmuUnshare));
  exports.Set("emuMapFile", Napi::Function::New(env, EmuMapFile));
  exports.Set("replayKnowPiece", Napi::Function::New(env, ReplayKnowPiece));
  exports.Set("mapFileInto", Napi::Function::New(env, MapFileInto));
  exports.Set("replayKnowImage", Napi::Function::New(env, ReplayKnowImage));
}

}  // namespace rw
