// A model on a GPU: the loaded driver, the device's context, kernel modules and weights.
#ifndef TERN_CUDA_CUDAMODEL_H
#define TERN_CUDA_CUDAMODEL_H

#include "CudaDriver.h"

#include "tern/cuda/CudaDevice.h"

#include <string>
#include <vector>

namespace tern::cuda {

constexpr uint64_t kDeviceAlignment = 256; // of every section and session buffer on the device
constexpr uint64_t kNotOnDevice = ~uint64_t(0);

inline uint64_t alignDevice(uint64_t bytes) {
  return (bytes + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment;
}

struct Model {
  Driver driver;
  int32_t ordinal = 0;
  CUdevice device = 0;
  CUcontext context = nullptr; // the device's primary context, retained by this model
  std::string name;            // "cuda:0 NVIDIA H100 80GB HBM3"
  std::string artifactName;    // starts every message
  std::vector<CUmodule> modules;                 // (kernel libraries) loaded PTX
  std::vector<std::vector<CUfunction>> functions; // (kernel libraries, kernels)
  CUdeviceptr weights = 0;     // every section a binding reads, each 256-byte aligned
  uint64_t weightBytes = 0;    // of |weights|
  std::vector<uint64_t> sectionOffsets; // (sections) offset in |weights|, or kNotOnDevice
  // Launch each dispatch as a programmatic dependent of the one before (compute capability
  // 9.0 and sm_90 kernels, which start with griddepcontrol.wait and let their dependent
  // launch at once): the next kernel's launch overlaps this one's run instead of following
  // its end, which is most of the cost of a small kernel. TERN_CUDA_PDL=0 turns it off.
  bool programmaticLaunch = false;

  Model() = default;
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;
  ~Model();

  // "<artifact>: cuda:0 NVIDIA H100 ...: <what>" for messages.
  std::string where(const std::string &what) const;
};

} // namespace tern::cuda

#endif
