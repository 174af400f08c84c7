// Build-load-run helpers for the generated CPU kernel tests.
#include "CodegenTestUtil.h"

#include "tern/artifact/HostCpu.h"

#include <algorithm>

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

namespace tern::cpu::test {

std::vector<std::string> runnableTargets() {
  std::vector<std::string> targets;
#if defined(__x86_64__)
  __builtin_cpu_init();
  bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
            __builtin_cpu_supports("f16c") && __builtin_cpu_supports("bmi2");
  bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512vnni");
  if (v4)
    targets.push_back("x86-64-v4");
  if (v3)
    targets.push_back("x86-64-v3");
  targets.push_back("generic");
#endif
  return targets;
}

bool hostRunsLookupTableKernels() {
#if defined(__x86_64__)
  const std::vector<std::string> targets = runnableTargets();
  return !targets.empty() && targets.front() == "x86-64-v4" &&
         __builtin_cpu_supports("avx512vbmi");
#else
  return false;
#endif
}

bool hostRuns(const std::string &target) {
  const std::vector<std::string> targets = runnableTargets();
  return std::find(targets.begin(), targets.end(), target) != targets.end();
}

bool hostRunsAmxKernels() {
  const std::vector<std::string> targets = runnableTargets();
  return !targets.empty() && targets.front() == "x86-64-v4" &&
         hostHasCpuFeature("amx-tile") == HostFeature::Present &&
         hostHasCpuFeature("amx-int8") == HostFeature::Present;
}

LoadedLibrary::~LoadedLibrary() {
  if (handle)
    dlclose(handle);
}

tern_cpu_kernel_fn LoadedLibrary::kernel(const std::string &symbol) const {
  return reinterpret_cast<tern_cpu_kernel_fn>(dlsym(handle, symbol.c_str()));
}

const void *LoadedLibrary::symbol(const std::string &name) const {
  return dlsym(handle, name.c_str());
}

llvm::Expected<CpuTarget> resolveTestTarget(const std::string &name) {
  const bool lookupTables = name.ends_with("+tl2");
  const bool amx = name.ends_with("+amx");
  const bool lutPrefill = name.ends_with("+lut");
  const std::string base =
      lookupTables || amx || lutPrefill ? name.substr(0, name.size() - 4) : name;
  auto target = resolveCpuTarget(base);
  if (target && lutPrefill)
    if (llvm::Error e = enableLutPrefill(*target, base, false))
      return std::move(e);
  if (target && lookupTables)
    if (llvm::Error e = enableLookupTableKernels(*target, base, false))
      return std::move(e);
  if (target && amx)
    if (llvm::Error e = enableAmxKernels(*target, base, false))
      return std::move(e);
  return target;
}

std::unique_ptr<LoadedLibrary> buildAndLoad(const std::vector<KernelSpec> &kernels,
                                            const std::string &targetName, std::string *error) {
  auto target = resolveTestTarget(targetName);
  if (!target) {
    *error = llvm::toString(target.takeError());
    return nullptr;
  }
  auto bytes = buildKernelLibrary(kernels, *target);
  if (!bytes) {
    *error = llvm::toString(bytes.takeError());
    return nullptr;
  }
  int fd = memfd_create("tern-kernels", 0);
  if (fd < 0) {
    *error = "memfd_create failed";
    return nullptr;
  }
  size_t written = 0;
  while (written < bytes->size()) {
    ssize_t n = write(fd, bytes->data() + written, bytes->size() - written);
    if (n <= 0) {
      close(fd);
      *error = "writing the library to a memfd failed";
      return nullptr;
    }
    written += size_t(n);
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  close(fd);
  if (!handle) {
    *error = std::string("dlopen: ") + dlerror();
    return nullptr;
  }
  auto library = std::make_unique<LoadedLibrary>();
  library->handle = handle;
  return library;
}

void runSliced(tern_cpu_kernel_fn fn, const std::vector<void *> &bindings, int64_t rows,
               int64_t pos, int64_t grid, int64_t slices) {
  for (int64_t s = 0; s < slices; ++s) {
    int64_t begin = grid * s / slices, end = grid * (s + 1) / slices;
    if (begin < end)
      fn(bindings.data(), rows, pos, begin, end);
  }
}

std::vector<float> randomFloats(std::mt19937 &rng, size_t count, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(count);
  for (float &x : v)
    x = dist(rng);
  return v;
}

} // namespace tern::cpu::test
