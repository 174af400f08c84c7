// Chooses where an artifact's kernels run and checks that the host can run what runs on it.
#include "ModelDevice.h"

#include "tern/artifact/HostCpu.h"

#include <cstdarg>
#include <cstdio>
#include <string>

namespace tern {
namespace {

__attribute__((format(printf, 3, 4))) tern_status_t fail(tern_status_code_t code,
                                                         const Artifact &artifact,
                                                         const char *format, ...) {
  char detail[768];
  va_list args;
  va_start(args, format);
  std::vsnprintf(detail, sizeof(detail), format, args);
  va_end(args);
  const std::string message = artifact.name() + ": " + detail;
  return tern_status_create(code, message.c_str());
}

bool isGpuKind(schema::KernelLibraryKind kind) {
  return kind == schema::KernelLibraryKind::Ptx || kind == schema::KernelLibraryKind::Cubin;
}

std::string gpuArch(const Artifact &artifact) {
  const schema::Target *target = artifact.target();
  return target && target->gpu_arch() && target->gpu_arch()->size() > 0
             ? target->gpu_arch()->str()
             : "an unnamed GPU";
}

// "x86-64-v4 (x86_64-unknown-linux-gnu)", or what is known of a CPU target.
std::string cpuTarget(const Artifact &artifact) {
  const schema::Target *target = artifact.target();
  const std::string cpu = target && target->cpu() ? target->cpu()->str() : "";
  const std::string triple = target && target->triple() ? target->triple()->str() : "";
  if (cpu.empty() && triple.empty())
    return "the CPU";
  if (cpu.empty() || triple.empty())
    return cpu + triple;
  return cpu + " (" + triple + ")";
}

// The artifact's target triple and (with |features|) CPU features against this host, as the
// artifact loader checks them for CPU artifacts (docs/artifact.md).
tern_status_t checkHostCpu(const Artifact &artifact, bool features) {
  const schema::Target *target = artifact.target();
  if (!target)
    return nullptr;
  const std::string_view triple = target->triple() ? target->triple()->string_view() : "";
  if (!hostRunsTriple(triple))
    return fail(TERN_STATUS_UNAVAILABLE, artifact, "compiled for target %.*s, but this host is %s",
                int(triple.size()), triple.data(), hostArchitecture());
  if (const auto *list = features ? target->cpu_features() : nullptr)
    for (const flatbuffers::String *feature : *list) {
      const HostFeature present = hostHasCpuFeature(feature->string_view());
      if (present != HostFeature::Present)
        return fail(TERN_STATUS_UNAVAILABLE, artifact,
                    "target needs CPU feature '%s', which this host %s", feature->c_str(),
                    present == HostFeature::Missing ? "lacks"
                                                    : "cannot be checked for (unknown feature)");
    }
  return nullptr;
}

} // namespace

tern_status_t chooseDevice(const Artifact &artifact, const tern_model_options_t &options,
                           DeviceChoice *out) {
  bool cpuCode = false, gpuCode = false;
  if (const auto *libraries = artifact.root().kernel_libraries())
    for (const schema::KernelLibrary *library : *libraries)
      (isGpuKind(library->kind()) ? gpuCode : cpuCode) = true;
  if (cpuCode && gpuCode)
    return fail(TERN_STATUS_DATA_LOSS, artifact,
                "kernel_libraries mix CPU and GPU code; an artifact is compiled for one device");
  const bool reference = options.kernels == TERN_KERNELS_REFERENCE;
  out->gpuLibraries = gpuCode;

  switch (options.device) {
  case TERN_DEVICE_AUTO:
    out->device = gpuCode && !reference ? TERN_DEVICE_CUDA : TERN_DEVICE_CPU;
    break;
  case TERN_DEVICE_CPU:
    if (gpuCode && !reference)
      return fail(TERN_STATUS_INVALID_ARGUMENT, artifact,
                  "compiled for the GPU (target %s, PTX kernels), which the cpu device cannot "
                  "run; use device cuda or auto (--device cuda), the runtime's reference "
                  "kernels on the CPU (--kernels reference), or compile the model for this CPU "
                  "(ternc compile --target=native)",
                  gpuArch(artifact).c_str());
    out->device = TERN_DEVICE_CPU;
    break;
  case TERN_DEVICE_CUDA:
    if (!gpuCode)
      return fail(TERN_STATUS_INVALID_ARGUMENT, artifact,
                  "compiled for the CPU (target %s), so it has no kernels for the cuda device; "
                  "compile the model for the GPU (ternc compile --target=sm_90, or sm_80 for "
                  "an A100) or use device cpu or auto (--device cpu)",
                  cpuTarget(artifact).c_str());
    if (reference)
      return fail(TERN_STATUS_INVALID_ARGUMENT, artifact,
                  "the reference kernels are the runtime's C++ twins and run on the CPU only; "
                  "use device cpu or auto with them (--device cpu), or the generated kernels "
                  "on cuda");
    out->device = TERN_DEVICE_CUDA;
    break;
  }
  // A GPU artifact's triple names the GPU. The reference twins are portable C++ that need no
  // CPU feature of the target (they run an x86-64-v4 artifact on any x86-64 host, to check it).
  return gpuCode ? nullptr : checkHostCpu(artifact, /*features=*/!reference);
}

} // namespace tern
