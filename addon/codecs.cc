// sha256, brotli and CRC-32 for the trace (src/native/codecs.ts), from the OpenSSL,
// brotli and zlib that the node binary itself carries and exports to addons.
//
// Why not node:crypto and node:zlib: loading them loads all of Node's streams (and
// crypto its ciphers, keys and X.509), ~5 ms of a `rewind record` or `replay
// --check` that takes ~100 ms (docs/startup.md). The functions are looked up with
// dlsym at the first call, not linked: a Node built without them exported (or with
// other names) still loads the addon, codecsAvailable() is then false, and
// src/native/codecs.ts uses node:crypto and node:zlib as before. The bytes are the
// same either way: the same sha256, and brotli streams that any brotli decoder reads
// (the trace format does not change).
//
// The prototypes below are those of OpenSSL's EVP digest API (1.1 and 3.x), brotli's
// encode.h/decode.h (1.0 on) and zlib's crc32: stable C ABIs, declared here because
// Node's header bundle has OpenSSL's headers but not brotli's.
#include <dlfcn.h>
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "js_args.h"

namespace rw {
namespace {

using Napi::CallbackInfo;
using Napi::Value;

// OpenSSL
using EvpMdCtxNew = void* (*)();
using EvpMdCtxFree = void (*)(void*);
using EvpSha256 = const void* (*)();
using EvpDigestInitEx = int (*)(void*, const void*, void*);
using EvpDigestUpdate = int (*)(void*, const void*, size_t);
using EvpDigestFinalEx = int (*)(void*, unsigned char*, unsigned int*);
// brotli
using BrotliEncoderMaxCompressedSizeFn = size_t (*)(size_t);
using BrotliEncoderCompressFn = int (*)(int quality, int lgwin, int mode, size_t inSize, const uint8_t* in, size_t* outSize, uint8_t* out);
using BrotliDecoderCreateInstanceFn = void* (*)(void*, void*, void*);
using BrotliDecoderDestroyInstanceFn = void (*)(void*);
using BrotliDecoderDecompressStreamFn = int (*)(void*, size_t* availIn, const uint8_t** nextIn, size_t* availOut, uint8_t** nextOut, size_t* total);
// zlib
using Crc32Fn = unsigned long (*)(unsigned long, const unsigned char*, unsigned int);

constexpr int kBrotliModeGeneric = 0;
// BrotliDecoderResult
constexpr int kBrotliDecoderError = 0, kBrotliDecoderSuccess = 1, kBrotliDecoderNeedsMoreInput = 2, kBrotliDecoderNeedsMoreOutput = 3;

struct Codecs {
  EvpMdCtxNew mdCtxNew;
  EvpMdCtxFree mdCtxFree;
  EvpSha256 sha256;
  EvpDigestInitEx digestInit;
  EvpDigestUpdate digestUpdate;
  EvpDigestFinalEx digestFinal;
  BrotliEncoderMaxCompressedSizeFn maxCompressedSize;
  BrotliEncoderCompressFn compress;
  BrotliDecoderCreateInstanceFn decoderCreate;
  BrotliDecoderDestroyInstanceFn decoderDestroy;
  BrotliDecoderDecompressStreamFn decompressStream;
  Crc32Fn crc32;
  bool complete;
};

template <typename F>
bool find(F& f, const char* name) {
  f = reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
  return f != nullptr;
}

const Codecs& codecs() {
  static const Codecs c = [] {
    Codecs c{};
    c.complete = find(c.mdCtxNew, "EVP_MD_CTX_new") && find(c.mdCtxFree, "EVP_MD_CTX_free") && find(c.sha256, "EVP_sha256") &&
                 find(c.digestInit, "EVP_DigestInit_ex") && find(c.digestUpdate, "EVP_DigestUpdate") &&
                 find(c.digestFinal, "EVP_DigestFinal_ex") && find(c.maxCompressedSize, "BrotliEncoderMaxCompressedSize") &&
                 find(c.compress, "BrotliEncoderCompress") && find(c.decoderCreate, "BrotliDecoderCreateInstance") &&
                 find(c.decoderDestroy, "BrotliDecoderDestroyInstance") &&
                 find(c.decompressStream, "BrotliDecoderDecompressStream") && find(c.crc32, "crc32");
    return c;
  }();
  return c;
}

#define NEEDS_CODECS()                                                                                \
  if (!codecs().complete) {                                                                           \
    Napi::Error::New(info.Env(), "this Node exports no OpenSSL/brotli/zlib (see codecsAvailable)")  \
        .ThrowAsJavaScriptException();                                                                \
    return info.Env().Undefined();                                                                    \
  }

Value CodecsAvailable(const CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), codecs().complete);
}

// A digest under way: an EVP_MD_CTX owned by a JS external, freed with it.
Value Sha256Begin(const CallbackInfo& info) {
  NEEDS_CODECS();
  void* ctx = codecs().mdCtxNew();
  if (!ctx || codecs().digestInit(ctx, codecs().sha256(), nullptr) != 1) {
    if (ctx) codecs().mdCtxFree(ctx);
    Napi::Error::New(info.Env(), "sha256: EVP_DigestInit_ex failed").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::External<void>::New(info.Env(), ctx, [](Napi::Env, void* p) { if (p) codecs().mdCtxFree(p); });
}

Value Sha256Update(const CallbackInfo& info) {
  const char* usage = "sha256Update(digest, data: Uint8Array)";
  USAGE_CHECK(info.Length() == 2 && info[0].IsExternal() && info[1].IsTypedArray(), usage);
  NEEDS_CODECS();
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  if (codecs().digestUpdate(info[0].As<Napi::External<void>>().Data(), data.Data(), data.ByteLength()) != 1) {
    Napi::Error::New(info.Env(), "sha256: EVP_DigestUpdate failed").ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

// The digest in hex; the context is done with (a further update or digest fails in OpenSSL).
Value Sha256Digest(const CallbackInfo& info) {
  const char* usage = "sha256Digest(digest): string";
  USAGE_CHECK(info.Length() == 1 && info[0].IsExternal(), usage);
  NEEDS_CODECS();
  unsigned char md[32];
  unsigned int n = 0;
  if (codecs().digestFinal(info[0].As<Napi::External<void>>().Data(), md, &n) != 1 || n != 32) {
    Napi::Error::New(info.Env(), "sha256: EVP_DigestFinal_ex failed").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  static const char digits[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  return Napi::String::New(info.Env(), hex);
}

Value BrotliCompress(const CallbackInfo& info) {
  const char* usage = "brotliCompress(data: Uint8Array, quality: 0..11, lgwin: 10..24): Buffer";
  USAGE_CHECK(info.Length() == 3 && info[0].IsTypedArray() && info[1].IsNumber() && info[2].IsNumber(), usage);
  NEEDS_CODECS();
  Napi::Uint8Array in = info[0].As<Napi::Uint8Array>();
  int quality = info[1].As<Napi::Number>().Int32Value(), lgwin = info[2].As<Napi::Number>().Int32Value();
  USAGE_CHECK(quality >= 0 && quality <= 11 && lgwin >= 10 && lgwin <= 24, usage);
  size_t bound = codecs().maxCompressedSize(in.ByteLength());
  if (bound == 0) bound = in.ByteLength() + (in.ByteLength() >> 2) + 1024;  // 0: the input is too large to say
  std::vector<uint8_t> out(bound);
  size_t n = out.size();
  if (!codecs().compress(quality, lgwin, kBrotliModeGeneric, in.ByteLength(), in.Data(), &n, out.data())) {
    Napi::Error::New(info.Env(), "brotli: BrotliEncoderCompress failed").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Buffer<uint8_t>::Copy(info.Env(), out.data(), n);
}

// Decompresses a whole brotli stream of at most `limit` bytes (-1: any size). Errors
// read like zlib's, which the trace reader puts in its messages.
Value BrotliDecompress(const CallbackInfo& info) {
  const char* usage = "brotliDecompress(data: Uint8Array, limit: number (-1: none)): Buffer";
  USAGE_CHECK(info.Length() == 2 && info[0].IsTypedArray() && info[1].IsNumber(), usage);
  NEEDS_CODECS();
  Napi::Uint8Array in = info[0].As<Napi::Uint8Array>();
  double limitArg = info[1].As<Napi::Number>().DoubleValue();
  size_t limit = limitArg < 0 ? SIZE_MAX : size_t(limitArg);
  void* dec = codecs().decoderCreate(nullptr, nullptr, nullptr);
  if (!dec) {
    Napi::Error::New(info.Env(), "brotli: out of memory").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  std::vector<uint8_t> out(std::min<size_t>(limit, std::max<size_t>(in.ByteLength() * 4, 4096)));
  size_t availIn = in.ByteLength(), produced = 0;
  const uint8_t* nextIn = in.Data();
  int result;
  std::string error;
  for (;;) {
    size_t availOut = out.size() - produced;
    uint8_t* nextOut = out.data() + produced;
    result = codecs().decompressStream(dec, &availIn, &nextIn, &availOut, &nextOut, nullptr);
    produced = out.size() - availOut;
    if (result == kBrotliDecoderNeedsMoreOutput) {
      if (out.size() >= limit) {
        error = "Cannot create a Buffer larger than " + std::to_string(limit) + " bytes";
        break;
      }
      out.resize(std::min<size_t>(limit, out.size() * 2));
      continue;
    }
    // bytes after the stream are ignored, as node:zlib does
    if (result == kBrotliDecoderNeedsMoreInput) error = "unexpected end of file";
    else if (result == kBrotliDecoderError) error = "Decompression failed";
    break;
  }
  codecs().decoderDestroy(dec);
  if (!error.empty()) {
    Napi::Error::New(info.Env(), error).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Buffer<uint8_t>::Copy(info.Env(), out.data(), produced);
}

Value Crc32(const CallbackInfo& info) {
  const char* usage = "crc32(data: Uint8Array): number";
  USAGE_CHECK(info.Length() == 1 && info[0].IsTypedArray(), usage);
  NEEDS_CODECS();
  Napi::Uint8Array data = info[0].As<Napi::Uint8Array>();
  unsigned long c = 0;
  const uint8_t* p = data.Data();
  for (size_t left = data.ByteLength(); left > 0;) {  // zlib's crc32 takes an unsigned int length
    unsigned int n = unsigned(std::min<size_t>(left, 1u << 30));
    c = codecs().crc32(c, p, n);
    p += n;
    left -= n;
  }
  return Napi::Number::New(info.Env(), double(uint32_t(c)));
}

}  // namespace

void registerCodecExports(Napi::Env env, Napi::Object exports) {
  exports.Set("codecsAvailable", Napi::Function::New(env, CodecsAvailable));
  exports.Set("sha256Begin", Napi::Function::New(env, Sha256Begin));
  exports.Set("sha256Update", Napi::Function::New(env, Sha256Update));
  exports.Set("sha256Digest", Napi::Function::New(env, Sha256Digest));
  exports.Set("brotliCompress", Napi::Function::New(env, BrotliCompress));
  exports.Set("brotliDecompress", Napi::Function::New(env, BrotliDecompress));
  exports.Set("crc32", Napi::Function::New(env, Crc32));
}

}  // namespace rw
