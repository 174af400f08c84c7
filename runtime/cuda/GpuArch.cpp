// Compute-capability rules for an artifact's target.gpu_arch.
#include "tern/cuda/GpuArch.h"

namespace tern::cuda {

bool parseGpuArch(std::string_view text, GpuArch *out) {
  if (text.substr(0, 3) != "sm_")
    return false;
  std::string_view rest = text.substr(3);
  GpuArch arch;
  if (!rest.empty() && (rest.back() == 'a' || rest.back() == 'f')) {
    arch.suffix = rest.back();
    rest.remove_suffix(1);
  }
  // Two or three digits: the last is the minor version, the others the major.
  if (rest.size() < 2 || rest.size() > 3)
    return false;
  for (char c : rest)
    if (c < '0' || c > '9')
      return false;
  for (size_t i = 0; i + 1 < rest.size(); ++i)
    arch.major = arch.major * 10 + (rest[i] - '0');
  arch.minor = rest.back() - '0';
  if (arch.major == 0)
    return false;
  *out = arch;
  return true;
}

bool gpuArchRunsOn(const GpuArch &arch, int major, int minor) {
  switch (arch.suffix) {
  case 'a':
    return major == arch.major && minor == arch.minor;
  case 'f':
    return major == arch.major && minor >= arch.minor;
  default:
    return major > arch.major || (major == arch.major && minor >= arch.minor);
  }
}

std::string describeGpuArchRequirement(const GpuArch &arch) {
  const std::string version = std::to_string(arch.major) + "." + std::to_string(arch.minor);
  switch (arch.suffix) {
  case 'a':
    return "compute capability " + version + " exactly";
  case 'f':
    return "compute capability " + version + " up to " + std::to_string(arch.major) + ".9";
  default:
    return "compute capability " + version + " or newer";
  }
}

} // namespace tern::cuda
