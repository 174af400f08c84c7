// Which device runs an artifact: the model options against its kernel libraries and target.
#ifndef TERN_EXECUTOR_MODELDEVICE_H
#define TERN_EXECUTOR_MODELDEVICE_H

#include "tern/artifact/Artifact.h"
#include "tern/tern.h"

namespace tern {

struct DeviceChoice {
  tern_device_t device = TERN_DEVICE_CPU; // TERN_DEVICE_CPU or TERN_DEVICE_CUDA, never AUTO
  bool gpuLibraries = false;              // the kernel libraries hold GPU code (kind Ptx)
};

// Chooses the device for |artifact| (opened without the host CPU check) under |options|
// (already range-checked), then checks that the host can run what runs on it: a CPU target's
// triple and CPU features when its generated or reference kernels run here; nothing for a GPU
// artifact, whose reference twins need no CPU feature and whose GPU is checked when it opens.
// INVALID_ARGUMENT names a device the artifact was not compiled for and what to do instead.
tern_status_t chooseDevice(const Artifact &artifact, const tern_model_options_t &options,
                           DeviceChoice *out);

} // namespace tern

#endif
