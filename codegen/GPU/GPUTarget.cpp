// GPU target names: the compute capabilities the PTX backend generates kernels for.
#include "codegen/GPU/GPUCodegen.h"

namespace tern::gpu {

bool isGpuTargetName(llvm::StringRef name) { return name.starts_with("sm_"); }

llvm::Expected<GpuTarget> resolveGpuTarget(llvm::StringRef name) {
  // PTX ISA 8.0 (CUDA 12.0) is the first with every sm_90 instruction; sm_80 code asks for the
  // same ISA so that one driver requirement covers both.
  GpuTarget target;
  target.name = name.str();
  target.chip = name.str();
  target.features = "+ptx80";
  if (name == "sm_80")
    target.computeCapability = 80;
  else if (name == "sm_90" || name == "sm_90a")
    target.computeCapability = 90;
  else
    return llvm::createStringError("--target=%s is not a known GPU target; known: sm_80, sm_90, "
                                   "sm_90a",
                                   name.str().c_str());
  return target;
}

} // namespace tern::gpu
