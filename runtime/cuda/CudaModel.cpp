// Opens a model on a GPU: device and target check, PTX modules and kernels, weights upload.
#include "CudaModel.h"

#include "ModelImpl.h"

#include "tern/cuda/GpuArch.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sys/mman.h>
#include <unistd.h>

namespace tern::cuda {
namespace {

tern_status_t fail(tern_status_code_t code, const std::string &message) {
  return tern_status_create(code, message.c_str());
}

// |status| (an error) with |prefix| before its message; frees |status|.
tern_status_t prefixed(tern_status_t status, const std::string &prefix) {
  const std::string message = prefix + ": " + tern_status_message(status);
  const tern_status_code_t code = tern_status_code(status);
  tern_status_free(status);
  return fail(code, message);
}

std::string megabytes(uint64_t bytes) {
  return std::to_string((bytes + 999999) / 1000000) + " MB";
}

tern_status_t openDevice(Model &m, int32_t ordinal, int *major, int *minor) {
  const Driver &d = m.driver;
  const std::string doing = m.where("opening the device");
  int count = 0;
  if (tern_status_t status = TERN_CUDA_CALL(d, doing.c_str(), cuDeviceGetCount, &count))
    return status;
  if (ordinal >= count)
    return fail(TERN_STATUS_INVALID_ARGUMENT,
                m.artifactName + ": device ordinal " + std::to_string(ordinal) +
                    " does not exist: this host has " + std::to_string(count) +
                    " CUDA device(s), cuda:0 to cuda:" + std::to_string(count - 1));
  char name[256] = {};
  if (tern_status_t status = TERN_CUDA_CALL(d, doing.c_str(), cuDeviceGet, &m.device, ordinal))
    return status;
  if (tern_status_t status =
          TERN_CUDA_CALL(d, doing.c_str(), cuDeviceGetName, name, int(sizeof(name)), m.device))
    return status;
  name[sizeof(name) - 1] = '\0';
  m.name = "cuda:" + std::to_string(ordinal) + " " + name;
  if (tern_status_t status =
          TERN_CUDA_CALL(d, doing.c_str(), cuDeviceGetAttribute, major,
                         CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, m.device))
    return status;
  if (tern_status_t status =
          TERN_CUDA_CALL(d, doing.c_str(), cuDeviceGetAttribute, minor,
                         CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, m.device))
    return status;
  // The primary context is the one the CUDA runtime API uses too: a host application that
  // also uses CUDA shares the device's memory and modules with the model instead of a second
  // context.
  return TERN_CUDA_CALL(d, m.where("creating the device's context").c_str(),
                        cuDevicePrimaryCtxRetain, &m.context, m.device);
}

tern_status_t checkTarget(const Artifact &artifact, Model &m, int major, int minor) {
  const schema::Target *target = artifact.target();
  const std::string text = target && target->gpu_arch() ? target->gpu_arch()->str() : "";
  GpuArch arch;
  if (!parseGpuArch(text, &arch))
    return fail(TERN_STATUS_DATA_LOSS, m.artifactName + ": target.gpu_arch is '" + text +
                                           "', expected sm_XY such as sm_90 or sm_80");
  // The kernels of sm_90 and later targets carry the griddepcontrol prologue (docs/gpu.md).
  const char *pdl = std::getenv("TERN_CUDA_PDL");
  m.programmaticLaunch = arch.major >= 9 && major >= 9 && !(pdl && std::strcmp(pdl, "0") == 0);
  if (!gpuArchRunsOn(arch, major, minor))
    return fail(TERN_STATUS_UNAVAILABLE,
                m.where("compiled for " + text + " (" + describeGpuArchRequirement(arch) +
                        "), but this GPU has compute capability " + std::to_string(major) + "." +
                        std::to_string(minor) + "; compile the model for it (ternc compile " +
                        "--target=sm_" + std::to_string(major) + std::to_string(minor) + ")"));
  return nullptr;
}

// Loads kernel library |index| (PTX text) as a module and finds each of its kernels.
tern_status_t loadLibrary(const Artifact &artifact, size_t index, Model &m) {
  const schema::KernelLibrary &library =
      *artifact.root().kernel_libraries()->Get(flatbuffers::uoffset_t(index));
  const std::string which = "kernel_libraries[" + std::to_string(index) + "]";
  if (library.kind() != schema::KernelLibraryKind::Ptx)
    return fail(TERN_STATUS_UNIMPLEMENTED,
                m.artifactName + ": " + which + ": kind " +
                    schema::EnumNameKernelLibraryKind(library.kind()) +
                    " cannot run on the cuda device, which loads Ptx libraries");
  if (library.abi_version() != TERN_KERNEL_ABI_VERSION)
    return fail(TERN_STATUS_UNIMPLEMENTED,
                m.artifactName + ": " + which + ": field abi_version is " +
                    std::to_string(library.abi_version()) +
                    " but this runtime implements kernel ABI " +
                    std::to_string(TERN_KERNEL_ABI_VERSION) +
                    "; recompile the model with a matching ternc");
  // The driver reads PTX as a NUL-terminated string; the section need not end in one.
  const SectionBytes bytes = artifact.sectionBytes(library.section());
  const std::string ptx(reinterpret_cast<const char *>(bytes.data), size_t(bytes.size));
  std::string infoLog(16384, '\0'), errorLog(16384, '\0');
  int options[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                   CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {infoLog.data(), reinterpret_cast<void *>(uintptr_t(infoLog.size())),
                    errorLog.data(), reinterpret_cast<void *>(uintptr_t(errorLog.size()))};
  CUmodule module = nullptr;
  const CUresult loaded =
      m.driver.cuModuleLoadDataEx(&module, ptx.c_str(), 4, options, values);
  if (loaded != CUDA_SUCCESS) {
    // The logs are NUL-terminated within their buffers.
    std::string log = errorLog.c_str();
    if (log.empty())
      log = infoLog.c_str();
    while (!log.empty() && (log.back() == '\n' || log.back() == ' '))
      log.pop_back();
    std::string message =
        m.where("loading " + which + " (PTX, section " + std::to_string(library.section()) +
                ", " + std::to_string(bytes.size) + " bytes)") +
        ": cuModuleLoadDataEx failed: " + m.driver.describe(loaded);
    if (!log.empty())
      message += "; JIT log: " + log;
    if (loaded == CUDA_ERROR_UNSUPPORTED_PTX_VERSION)
      message += "; the PTX is newer than this driver (CUDA " +
                 std::to_string(m.driver.version / 1000) + "." +
                 std::to_string(m.driver.version % 1000 / 10) +
                 ") accepts: update the NVIDIA driver";
    return fail(statusCodeFor(loaded), message);
  }
  m.modules[index] = module;
  const size_t numKernels = library.kernels() ? library.kernels()->size() : 0;
  m.functions[index].assign(numKernels, nullptr);
  for (size_t k = 0; k < numKernels; ++k) {
    const flatbuffers::String *symbol = library.kernels()->Get(flatbuffers::uoffset_t(k));
    const std::string name = symbol ? symbol->str() : "";
    const CUresult found = m.driver.cuModuleGetFunction(&m.functions[index][k], module,
                                                        name.c_str());
    if (found != CUDA_SUCCESS)
      return fail(statusCodeFor(found),
                  m.artifactName + ": " + which + ": kernels[" + std::to_string(k) +
                      "]: the PTX module has no kernel '" + name +
                      "' (cuModuleGetFunction: " + m.driver.describe(found) + ")");
  }
  return nullptr;
}

// Checks each dispatch's block against what its kernel can run on this GPU: a kernel that
// needs many registers runs fewer threads per block than the 1024 every device allows.
tern_status_t checkBlocks(const tern_model_t &model, const Model &m) {
  for (const PreparedEntry &entry : model.entries)
    for (size_t d = 0; d < entry.dispatches.size(); ++d) {
      const PreparedDispatch &dispatch = entry.dispatches[d];
      const uint64_t threads =
          uint64_t(dispatch.gpuGrid[3]) * dispatch.gpuGrid[4] * dispatch.gpuGrid[5];
      int most = 0;
      const std::string doing =
          m.where("checking kernel '" + dispatch.spec->symbol + "'");
      if (tern_status_t status =
              TERN_CUDA_CALL(m.driver, doing.c_str(), cuFuncGetAttribute, &most,
                             CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                             m.functions[dispatch.library][dispatch.kernel]))
        return status;
      if (threads > uint64_t(most))
        return fail(TERN_STATUS_UNAVAILABLE,
                    m.where("entry point '" + entry.name + "', dispatch " + std::to_string(d) +
                            " (kernel '" + dispatch.spec->symbol + "') launches blocks of " +
                            std::to_string(threads) + " threads, but this GPU runs it with at "
                            "most " + std::to_string(most) +
                            " per block (registers); compile the model for this GPU"));
    }
  return nullptr;
}

// Lets the kernel drop its pages of |bytes| (inside the artifact's read-only, private file
// mapping) once they are on the device: reading them again would fault them back in from the
// file, so this only lowers the process's resident memory.
void releaseHostPages(SectionBytes bytes) {
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0)
    return;
  const uintptr_t begin = (uintptr_t(bytes.data) + uintptr_t(page) - 1) / uintptr_t(page) *
                          uintptr_t(page);
  const uintptr_t end = (uintptr_t(bytes.data) + bytes.size) / uintptr_t(page) * uintptr_t(page);
  if (end > begin)
    madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}

// Uploads every Weights section and every other section a binding reads into one allocation,
// each at a 256-byte aligned offset.
tern_status_t uploadSections(const tern_model_t &model, Model &m) {
  const Artifact &artifact = *model.artifact;
  const size_t numSections = artifact.numSections();
  std::vector<bool> needed(numSections, false);
  for (size_t i = 0; i < numSections; ++i)
    needed[i] = artifact.section(i).kind() == schema::SectionKind::Weights;
  for (const PreparedEntry &entry : model.entries)
    for (const schema::Binding *binding : entry.bindings)
      if (binding->kind() == schema::BindingKind::SectionSlice)
        needed[binding->section()] = true; // checked against numSections at prepare
  m.sectionOffsets.assign(numSections, kNotOnDevice);
  for (size_t i = 0; i < numSections; ++i)
    if (needed[i]) {
      m.sectionOffsets[i] = m.weightBytes;
      m.weightBytes += alignDevice(artifact.sectionBytes(i).size);
    }
  if (m.weightBytes == 0)
    return nullptr;
  const CUresult allocated = m.driver.cuMemAlloc_v2(&m.weights, m.weightBytes);
  if (allocated != CUDA_SUCCESS) {
    size_t free = 0, total = 0;
    m.driver.cuMemGetInfo_v2(&free, &total);
    const std::string doing = m.where("allocating " + megabytes(m.weightBytes) +
                                      " for the weights (" + megabytes(free) + " of " +
                                      megabytes(total) + " free)");
    m.weights = 0;
    return m.driver.check(allocated, "cuMemAlloc_v2", doing.c_str());
  }
  for (size_t i = 0; i < numSections; ++i) {
    const SectionBytes bytes = artifact.sectionBytes(i);
    if (m.sectionOffsets[i] == kNotOnDevice || bytes.size == 0)
      continue;
    const std::string doing = m.where("uploading section " + std::to_string(i));
    if (tern_status_t status = TERN_CUDA_CALL(m.driver, doing.c_str(), cuMemcpyHtoD_v2,
                                              m.weights + m.sectionOffsets[i], bytes.data,
                                              size_t(bytes.size)))
      return status;
    releaseHostPages(bytes);
  }
  // A copy from pageable memory may return before its DMA is done, and sessions' streams do
  // not wait for the stream it ran on: the weights must be in place before any kernel runs.
  return TERN_CUDA_CALL(m.driver, m.where("uploading the weights").c_str(), cuCtxSynchronize);
}

} // namespace

std::string Model::where(const std::string &what) const {
  return artifactName + ": " + (name.empty() ? "cuda:" + std::to_string(ordinal) : name) + ": " +
         what;
}

Model::~Model() {
  if (!context)
    return; // nothing was created on the device
  {
    ContextScope scope(driver, context);
    for (CUmodule module : modules)
      if (module)
        driver.cuModuleUnload(module);
    if (weights)
      driver.cuMemFree_v2(weights);
  }
  driver.cuDevicePrimaryCtxRelease_v2(device);
}

void ModelDeleter::operator()(Model *model) const { delete model; }

tern_status_t openModel(tern_model_t &model, int32_t ordinal, ModelPtr *out) {
  out->reset(new (std::nothrow) Model());
  if (!*out)
    return fail(TERN_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  Model &m = **out;
  const Artifact &artifact = *model.artifact;
  m.ordinal = ordinal;
  m.artifactName = artifact.name();
  if (tern_status_t status = m.driver.load())
    return prefixed(status, m.artifactName);
  int major = 0, minor = 0;
  if (tern_status_t status = openDevice(m, ordinal, &major, &minor))
    return status;
  if (tern_status_t status = checkTarget(artifact, m, major, minor))
    return status;

  ContextScope scope(m.driver, m.context);
  if (tern_status_t status = scope.status(m.where("using the device's context").c_str()))
    return status;
  const size_t numLibraries = model.libraries.size();
  m.modules.assign(numLibraries, nullptr);
  m.functions.resize(numLibraries);
  for (size_t i = 0; i < numLibraries; ++i)
    if (tern_status_t status = loadLibrary(artifact, i, m))
      return status;
  if (tern_status_t status = checkBlocks(model, m))
    return status;
  if (tern_status_t status = uploadSections(model, m))
    return status;
  model.deviceName = m.name;
  model.deviceMemoryBytes = m.weightBytes + sessionDeviceBytes(model, model.kv.context);
  return nullptr;
}

} // namespace tern::cuda
