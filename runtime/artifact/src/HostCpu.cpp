// Host CPU feature queries for the artifact loader's target check.
#include "tern/artifact/HostCpu.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace tern {
namespace {

#if defined(__x86_64__)
// AMX-TILE and AMX-INT8, with the OS saving the tile state and letting this process use it.
// Linux (5.16+) keeps the tile data disabled until a process asks for it (arch_prctl
// ARCH_REQ_XCOMP_PERM); the first tile instruction would fault otherwise. The request is made
// once, on the first query, and holds for every thread of the process.
bool amxUsable() {
  static const bool usable = [] {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
      return false;
    const bool tile = edx & (1u << 24), int8 = edx & (1u << 25);
    if (!tile || !int8)
      return false;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) // OSXSAVE
      return false;
    unsigned xcr0Low, xcr0High;
    __asm__ volatile("xgetbv" : "=a"(xcr0Low), "=d"(xcr0High) : "c"(0));
    const unsigned tileState = (1u << 17) | (1u << 18); // XTILECFG, XTILEDATA
    if ((xcr0Low & tileState) != tileState)
      return false;
    constexpr long kArchReqXcompPerm = 0x1023;
    constexpr long kXfeatureXtileData = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtileData) == 0;
  }();
  return usable;
}
#endif

} // namespace

HostFeature hostHasCpuFeature(std::string_view feature) {
#if defined(__x86_64__) || defined(__i386__)
  // __builtin_cpu_supports needs a literal, hence a table of calls rather than one lookup.
  struct Entry {
    std::string_view name;
    bool present;
  };
  __builtin_cpu_init();
  const Entry entries[] = {
      {"sse4.2", static_cast<bool>(__builtin_cpu_supports("sse4.2"))},
      {"avx", static_cast<bool>(__builtin_cpu_supports("avx"))},
      {"avx2", static_cast<bool>(__builtin_cpu_supports("avx2"))},
      {"fma", static_cast<bool>(__builtin_cpu_supports("fma"))},
      {"f16c", static_cast<bool>(__builtin_cpu_supports("f16c"))},
      {"bmi2", static_cast<bool>(__builtin_cpu_supports("bmi2"))},
      {"avx512f", static_cast<bool>(__builtin_cpu_supports("avx512f"))},
      {"avx512bw", static_cast<bool>(__builtin_cpu_supports("avx512bw"))},
      {"avx512vl", static_cast<bool>(__builtin_cpu_supports("avx512vl"))},
      {"avx512dq", static_cast<bool>(__builtin_cpu_supports("avx512dq"))},
      {"avx512cd", static_cast<bool>(__builtin_cpu_supports("avx512cd"))},
      {"avx512vnni", static_cast<bool>(__builtin_cpu_supports("avx512vnni"))},
      {"avx512vbmi", static_cast<bool>(__builtin_cpu_supports("avx512vbmi"))},
  };
#if defined(__x86_64__)
  if (feature == "amx-tile" || feature == "amx-int8")
    return amxUsable() ? HostFeature::Present : HostFeature::Missing;
#endif
  for (const Entry &entry : entries)
    if (entry.name == feature)
      return entry.present ? HostFeature::Present : HostFeature::Missing;
  return HostFeature::Unknown;
#elif defined(__aarch64__)
  // NEON is baseline on AArch64; other features need getauxval, added with the ARM backend.
  if (feature == "neon")
    return HostFeature::Present;
  return HostFeature::Unknown;
#else
  (void)feature;
  return HostFeature::Unknown;
#endif
}

const char *hostArchitecture() {
#if defined(__x86_64__)
  return "x86_64";
#elif defined(__aarch64__)
  return "aarch64";
#else
  return "unknown";
#endif
}

bool hostRunsTriple(std::string_view triple) {
  if (triple.empty())
    return true;
  std::string_view arch = triple.substr(0, triple.find('-'));
  std::string_view host = hostArchitecture();
  if (arch == host)
    return true;
  // Spellings LLVM accepts for the same architecture.
  if (host == "x86_64" && (arch == "x86-64" || arch == "amd64"))
    return true;
  if (host == "aarch64" && arch == "arm64")
    return true;
  return false;
}

} // namespace tern
