// Loads the NVIDIA driver library at run time and turns CUresults into statuses.
#include "CudaDriver.h"

#include <cstdlib>
#include <dlfcn.h>

namespace tern::cuda {
namespace {

tern_status_t unavailable(const std::string &why) {
  const std::string message = "the cuda device needs the NVIDIA driver (libcuda.so.1): " + why;
  return tern_status_create(TERN_STATUS_UNAVAILABLE, message.c_str());
}

} // namespace

tern_status_code_t statusCodeFor(CUresult result) {
  switch (result) {
  case CUDA_ERROR_OUT_OF_MEMORY:
    return TERN_STATUS_RESOURCE_EXHAUSTED;
  case CUDA_ERROR_NOT_INITIALIZED:
  case CUDA_ERROR_STUB_LIBRARY:
  case CUDA_ERROR_INSUFFICIENT_DRIVER:
  case CUDA_ERROR_DEVICE_UNAVAILABLE:
  case CUDA_ERROR_NO_DEVICE:
  case CUDA_ERROR_INVALID_DEVICE:
  case CUDA_ERROR_NO_BINARY_FOR_GPU:
  case CUDA_ERROR_JIT_COMPILER_NOT_FOUND:
  case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
  case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
  case CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE:
    return TERN_STATUS_UNAVAILABLE;
  case CUDA_ERROR_INVALID_IMAGE:
  case CUDA_ERROR_INVALID_PTX:
    return TERN_STATUS_DATA_LOSS;
  case CUDA_ERROR_NOT_FOUND:
    return TERN_STATUS_NOT_FOUND;
  default:
    return TERN_STATUS_INTERNAL;
  }
}

tern_status_t Driver::load() {
  const char *override = std::getenv("TERN_CUDA_DRIVER");
  path = override && *override ? override : "libcuda.so.1";
  // RTLD_LOCAL: the driver's symbols stay out of the global namespace, where a host
  // application's own CUDA libraries could bind to them.
  void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = dlerror();
    return unavailable(why ? why : ("cannot load " + path));
  }
#define TERN_CUDA_RESOLVE(symbol, ...)                                                          \
  symbol = reinterpret_cast<FunctionPointer<__VA_ARGS__>>(dlsym(library, #symbol));             \
  if (!symbol)                                                                                  \
    return unavailable(path + " does not export " #symbol                                       \
                              "; the driver is older than this runtime needs (CUDA 11.4 or "    \
                              "newer)");
  TERN_CUDA_DRIVER_FUNCTIONS(TERN_CUDA_RESOLVE)
#undef TERN_CUDA_RESOLVE

  const CUresult init = cuInit(0);
  if (init != CUDA_SUCCESS)
    return unavailable(path + " loaded, but cuInit failed: " + describe(init) +
                       " (no usable GPU, or the driver and its kernel module differ)");
  if (tern_status_t status =
          TERN_CUDA_CALL(*this, "asking the driver's version", cuDriverGetVersion, &version))
    return status;
  return nullptr;
}

std::string Driver::describe(CUresult result) const {
  const char *name = nullptr, *text = nullptr;
  if (!cuGetErrorName || cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = nullptr;
  if (!cuGetErrorString || cuGetErrorString(result, &text) != CUDA_SUCCESS || !text)
    text = nullptr;
  std::string description = name ? name : "CUresult " + std::to_string(result);
  if (text)
    description += std::string(" (") + text + ")";
  return description;
}

tern_status_t Driver::check(CUresult result, const char *function, const char *doing) const {
  if (result == CUDA_SUCCESS)
    return nullptr;
  const std::string message = std::string(doing) + ": " + function + " failed: " + describe(result);
  return tern_status_create(statusCodeFor(result), message.c_str());
}

ContextScope::ContextScope(const Driver &driver, CUcontext context)
    : driver_(driver), pushed_(driver.cuCtxPushCurrent_v2(context)) {}

ContextScope::~ContextScope() {
  if (pushed_ != CUDA_SUCCESS)
    return;
  CUcontext popped = nullptr;
  driver_.cuCtxPopCurrent_v2(&popped); // cannot fail after a successful push
}

tern_status_t ContextScope::status(const char *doing) const {
  return driver_.check(pushed_, "cuCtxPushCurrent_v2", doing);
}

} // namespace tern::cuda
