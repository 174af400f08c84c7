// Resolves a user's CPU target name (x86-64-v4, x86-64-v3, generic, native) to LLVM settings.
#include "codegen/CPU/CPUCodegen.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

namespace tern::cpu {
namespace {

constexpr const char *kTriple = "x86_64-unknown-linux-gnu";

CpuTarget makeV4() {
  CpuTarget t;
  t.name = "x86-64-v4";
  t.triple = kTriple;
  t.cpu = "x86-64-v4";
  // x86-64-v4 itself implies AVX-512 F/BW/VL/DQ/CD; the ternary kernels also need VNNI.
  t.features = {"avx2",     "fma",      "f16c",     "bmi2",    "avx512f",
                "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512vnni"};
  t.hasAVX512 = true;
  t.hasAVX2 = true;
  return t;
}

CpuTarget makeV3() {
  CpuTarget t;
  t.name = "x86-64-v3";
  t.triple = kTriple;
  t.cpu = "x86-64-v3";
  t.features = {"avx2", "fma", "f16c", "bmi2"};
  t.hasAVX2 = true;
  return t;
}

CpuTarget makeGeneric() {
  CpuTarget t;
  t.name = "generic";
  t.triple = kTriple;
  t.cpu = "x86-64"; // SSE2 baseline: runs on every x86-64
  return t;
}

#if defined(__x86_64__)
// Whether the build machine reports |feature| (LLVM spelling).
bool hostHas(const char *feature) {
  llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  auto it = host.find(feature);
  return it != host.end() && it->second;
}
#endif

} // namespace

llvm::Expected<CpuTarget> resolveCpuTarget(llvm::StringRef name) {
  if (name == "x86-64-v4")
    return makeV4();
  if (name == "x86-64-v3")
    return makeV3();
  if (name == "generic" || name == "x86-64")
    return makeGeneric();
  if (name == "native") {
#if defined(__x86_64__)
    bool v3 = hostHas("avx2") && hostHas("fma") && hostHas("f16c") && hostHas("bmi2");
    bool v4 = v3 && hostHas("avx512f") && hostHas("avx512bw") && hostHas("avx512vl") &&
              hostHas("avx512dq") && hostHas("avx512cd") && hostHas("avx512vnni");
    CpuTarget best = v4 ? makeV4() : v3 ? makeV3() : makeGeneric();
    return best;
#else
    return llvm::createStringError("CPU target 'native': the build machine is not x86-64; "
                                   "name one of x86-64-v4, x86-64-v3, generic");
#endif
  }
  return llvm::createStringError("unknown CPU target '%s'; known: x86-64-v4, x86-64-v3, "
                                 "generic, native",
                                 name.str().c_str());
}

llvm::Error enableLookupTableKernels(CpuTarget &target, llvm::StringRef name, bool isGpu) {
  if (isGpu)
    return llvm::createStringError("--ternary-packing=tl2 is a CPU layout; GPU target '%s' "
                                   "reads i2 weights",
                                   name.str().c_str());
  if (!target.hasAVX512)
    return llvm::createStringError(
        "--ternary-packing=tl2 needs AVX-512 with VBMI (vpermb); target '%s' has no AVX-512 "
        "(use --target=x86-64-v4, or native on such a host)",
        name.str().c_str());
  if (name == "native" && !hostHasVBMI())
    return llvm::createStringError(
        "--ternary-packing=tl2 needs AVX-512 VBMI (vpermb), which this machine ('native') "
        "lacks; compile with --ternary-packing=i2, or for another host with "
        "--target=x86-64-v4");
  target.features.push_back("avx512vbmi");
  target.hasVBMI = true;
  return llvm::Error::success();
}

llvm::Error enableAmxKernels(CpuTarget &target, llvm::StringRef name, bool isGpu) {
  if (isGpu)
    return llvm::createStringError("--amx=on is for CPU targets; '%s' is a GPU target",
                                   name.str().c_str());
  if (!target.hasAVX512)
    return llvm::createStringError("--amx=on needs an AVX-512 target (x86-64-v4, or native on "
                                   "such a host); '%s' has no AVX-512",
                                   name.str().c_str());
  if (name == "native" && !hostHasAMX())
    return llvm::createStringError(
        "--amx=on: this machine ('native') has no AMX-INT8 (or its OS does not enable the tile "
        "state); compile with --amx=off, or for another host with --target=x86-64-v4 --amx=on");
  target.features.push_back("amx-tile");
  target.features.push_back("amx-int8");
  target.hasAMX = true;
  return llvm::Error::success();
}

bool hostHasAMX() {
#if defined(__x86_64__)
  return hostHas("amx-tile") && hostHas("amx-int8");
#else
  return false;
#endif
}

bool defaultAmx(llvm::StringRef name, const CpuTarget &target, bool isGpu, bool hostAMX) {
  return !isGpu && name == "native" && target.hasAVX512 && hostAMX;
}

bool hostHasVBMI() {
#if defined(__x86_64__)
  return hostHas("avx512vbmi");
#else
  return false;
#endif
}

llvm::StringRef defaultTernaryPacking(llvm::StringRef name, const CpuTarget &target, bool isGpu,
                                      bool hostVBMI) {
  return !isGpu && name == "native" && target.hasAVX512 && !target.hasAMX && hostVBMI ? "tl2"
                                                                                      : "i2";
}

llvm::Error enableLutPrefill(CpuTarget &target, llvm::StringRef name, bool isGpu) {
  if (isGpu)
    return llvm::createStringError("--lut-prefill=on is for CPU targets; '%s' is a GPU target",
                                   name.str().c_str());
  if (!target.hasAVX2 || target.hasAVX512)
    return llvm::createStringError(
        "--lut-prefill=on is for AVX2 targets without AVX-512 (x86-64-v3, or native on such a "
        "host); '%s' %s",
        name.str().c_str(),
        target.hasAVX512 ? "has AVX-512 VNNI, whose kernels are faster" : "has no AVX2");
  target.lutPrefill = true;
  return llvm::Error::success();
}

bool defaultLutPrefill(llvm::StringRef name, const CpuTarget &target, bool isGpu,
                       llvm::StringRef hostCpu) {
  return !isGpu && name == "native" && target.hasAVX2 && !target.hasAVX512 &&
         (hostCpu == "znver1" || hostCpu == "znver2" || hostCpu == "znver3");
}

std::string hostCpuName() { return llvm::sys::getHostCPUName().str(); }

} // namespace tern::cpu
