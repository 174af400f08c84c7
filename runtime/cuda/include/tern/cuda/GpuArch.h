// Which GPUs can run code compiled for an artifact's target.gpu_arch ("sm_90", "sm_90a", ...).
#ifndef TERN_CUDA_GPUARCH_H
#define TERN_CUDA_GPUARCH_H

#include <string>
#include <string_view>

namespace tern::cuda {

// sm_XY[a|f]: compute capability X.Y (X may have two digits: sm_100 is 10.0) and the suffix.
struct GpuArch {
  int major = 0;
  int minor = 0;
  char suffix = 0; // 0, 'a' (architecture-specific: X.Y only) or 'f' (family: X.y, y >= Y)
};

// Parses |text|; false when it is not of the form sm_XY, sm_XYa or sm_XYf.
bool parseGpuArch(std::string_view text, GpuArch *out);

// Whether code for |arch| runs on a device of compute capability |major|.|minor|: PTX for sm_XY
// is JIT-compiled for any later device, sm_XYa code needs exactly X.Y, sm_XYf any X.y, y >= Y.
bool gpuArchRunsOn(const GpuArch &arch, int major, int minor);

// What |arch| needs, for messages: "compute capability 9.0 or newer".
std::string describeGpuArchRequirement(const GpuArch &arch);

} // namespace tern::cuda

#endif
