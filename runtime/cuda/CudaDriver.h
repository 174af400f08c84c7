// The CUDA driver API as this runtime uses it, loaded with dlopen: no CUDA header, no link.
#ifndef TERN_CUDA_CUDADRIVER_H
#define TERN_CUDA_CUDADRIVER_H

#include "tern/tern.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace tern::cuda {

// Types and values of the documented driver API (CUDA Driver API reference, "Data types used by
// CUDA driver"), declared here because the runtime builds where no CUDA toolkit is installed.
// Enums are passed as int: a C enum of these ranges is an int in the platform ABI.
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long; // 64-bit builds only (as the driver's own header)
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
constexpr CUresult CUDA_ERROR_NOT_INITIALIZED = 3;
constexpr CUresult CUDA_ERROR_STUB_LIBRARY = 34;
constexpr CUresult CUDA_ERROR_INSUFFICIENT_DRIVER = 35;
constexpr CUresult CUDA_ERROR_DEVICE_UNAVAILABLE = 46;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr CUresult CUDA_ERROR_INVALID_DEVICE = 101;
constexpr CUresult CUDA_ERROR_INVALID_IMAGE = 200;
constexpr CUresult CUDA_ERROR_NO_BINARY_FOR_GPU = 209;
constexpr CUresult CUDA_ERROR_INVALID_PTX = 218;
constexpr CUresult CUDA_ERROR_JIT_COMPILER_NOT_FOUND = 221;
constexpr CUresult CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222;
constexpr CUresult CUDA_ERROR_NOT_FOUND = 500;
constexpr CUresult CUDA_ERROR_SYSTEM_DRIVER_MISMATCH = 803;
constexpr CUresult CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE = 804;

// CUdevice_attribute
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
// CUfunction_attribute
constexpr int CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0;
// CUjit_option
constexpr int CU_JIT_INFO_LOG_BUFFER = 3;
constexpr int CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
// CUstream_flags
constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
// CUstreamCaptureMode
constexpr int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
// CUevent_flags
constexpr unsigned CU_EVENT_DEFAULT = 0;
// CUlaunchAttributeID
constexpr int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

// cuLaunchKernelEx's attributes: an id, padding to 8 bytes, then a 64-byte value union of which
// this runtime sets only the int programmaticStreamSerializationAllowed.
struct CUlaunchAttribute {
  int id;
  char pad[8 - sizeof(int)];
  union {
    char bytes[64];
    int programmaticStreamSerializationAllowed;
  } value;
};
struct CUlaunchConfig {
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  CUstream hStream;
  CUlaunchAttribute *attrs;
  unsigned numAttrs;
};

// A pointer to a function of type |F|, so that a function type can name a member's type.
template <typename F> using FunctionPointer = F *;

// Every driver function the runtime calls, as X(symbol, type) (the type's commas make it the
// macro's variadic part). The symbol is the versioned name
// the driver's header maps the plain name to (cuMemAlloc -> cuMemAlloc_v2), so the loader finds
// the current ABI of each function with dlsym; messages name functions the same way.
#define TERN_CUDA_DRIVER_FUNCTIONS(X)                                                           \
  X(cuGetErrorName, CUresult(CUresult, const char **))                                          \
  X(cuGetErrorString, CUresult(CUresult, const char **))                                        \
  X(cuInit, CUresult(unsigned))                                                                 \
  X(cuDriverGetVersion, CUresult(int *))                                                        \
  X(cuDeviceGetCount, CUresult(int *))                                                          \
  X(cuDeviceGet, CUresult(CUdevice *, int))                                                     \
  X(cuDeviceGetName, CUresult(char *, int, CUdevice))                                           \
  X(cuDeviceGetAttribute, CUresult(int *, int, CUdevice))                                       \
  X(cuDevicePrimaryCtxRetain, CUresult(CUcontext *, CUdevice))                                  \
  X(cuDevicePrimaryCtxRelease_v2, CUresult(CUdevice))                                           \
  X(cuCtxPushCurrent_v2, CUresult(CUcontext))                                                   \
  X(cuCtxPopCurrent_v2, CUresult(CUcontext *))                                                  \
  X(cuCtxSynchronize, CUresult())                                                                \
  X(cuMemGetInfo_v2, CUresult(size_t *, size_t *))                                              \
  X(cuModuleLoadDataEx, CUresult(CUmodule *, const void *, unsigned, int *, void **))           \
  X(cuModuleUnload, CUresult(CUmodule))                                                         \
  X(cuModuleGetFunction, CUresult(CUfunction *, CUmodule, const char *))                        \
  X(cuFuncGetAttribute, CUresult(int *, int, CUfunction))                                       \
  X(cuMemAlloc_v2, CUresult(CUdeviceptr *, size_t))                                             \
  X(cuMemFree_v2, CUresult(CUdeviceptr))                                                        \
  X(cuMemsetD8_v2, CUresult(CUdeviceptr, unsigned char, size_t))                                \
  X(cuMemsetD8Async, CUresult(CUdeviceptr, unsigned char, size_t, CUstream))                     \
  X(cuMemcpyHtoD_v2, CUresult(CUdeviceptr, const void *, size_t))                               \
  X(cuMemcpyHtoDAsync_v2, CUresult(CUdeviceptr, const void *, size_t, CUstream))                \
  X(cuMemcpyDtoHAsync_v2, CUresult(void *, CUdeviceptr, size_t, CUstream))                     \
  X(cuMemHostAlloc, CUresult(void **, size_t, unsigned))                                        \
  X(cuMemFreeHost, CUresult(void *))                                                            \
  X(cuStreamCreate, CUresult(CUstream *, unsigned))                                             \
  X(cuStreamDestroy_v2, CUresult(CUstream))                                                     \
  X(cuStreamSynchronize, CUresult(CUstream))                                                    \
  X(cuStreamBeginCapture_v2, CUresult(CUstream, int))                                           \
  X(cuStreamEndCapture, CUresult(CUstream, CUgraph *))                                          \
  X(cuGraphInstantiateWithFlags, CUresult(CUgraphExec *, CUgraph, unsigned long long))          \
  X(cuGraphDestroy, CUresult(CUgraph))                                                          \
  X(cuGraphExecDestroy, CUresult(CUgraphExec))                                                  \
  X(cuGraphLaunch, CUresult(CUgraphExec, CUstream))                                             \
  X(cuLaunchKernel, CUresult(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,      \
                             unsigned, unsigned, CUstream, void **, void **))                   \
  X(cuLaunchKernelEx, CUresult(const CUlaunchConfig *, CUfunction, void **, void **))          \
  X(cuEventCreate, CUresult(CUevent *, unsigned))                                               \
  X(cuEventDestroy_v2, CUresult(CUevent))                                                       \
  X(cuEventRecord, CUresult(CUevent, CUstream))                                                 \
  X(cuEventElapsedTime, CUresult(float *, CUevent, CUevent))

// The status code a failure with |result| gets: RESOURCE_EXHAUSTED for out of memory,
// UNAVAILABLE for a missing or unusable device, driver or JIT, DATA_LOSS for an invalid image,
// NOT_FOUND for a missing name, INTERNAL otherwise.
tern_status_code_t statusCodeFor(CUresult result);

// The loaded driver: one pointer per function, named by its symbol. The library stays loaded
// for the life of the process: the driver keeps threads and exit handlers that must not lose
// their code, so it is never dlclosed (dlopen of a loaded library only counts a reference).
struct Driver {
#define TERN_CUDA_DECLARE(symbol, ...) FunctionPointer<__VA_ARGS__> symbol = nullptr;
  TERN_CUDA_DRIVER_FUNCTIONS(TERN_CUDA_DECLARE)
#undef TERN_CUDA_DECLARE
  std::string path; // what was dlopened: TERN_CUDA_DRIVER or "libcuda.so.1"
  int version = 0;  // cuDriverGetVersion: 12040 for CUDA 12.4

  // Loads the driver library, resolves every function and calls cuInit. UNAVAILABLE with
  // "the cuda device needs the NVIDIA driver (libcuda.so.1): <why>" when the library does not
  // load, lacks a function (too old) or cuInit fails (no GPU, driver/kernel module mismatch).
  tern_status_t load();

  // Null for CUDA_SUCCESS; otherwise a status naming |doing|, |function| and the result's name
  // and description: "<doing>: cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)",
  // with the code statusCodeFor(result).
  // |doing| is only read on failure, so a caller on a hot path passes a literal.
  tern_status_t check(CUresult result, const char *function, const char *doing) const;

  // "CUDA_ERROR_OUT_OF_MEMORY (out of memory)" for |result|.
  std::string describe(CUresult result) const;
};

// Calls |symbol| of |driver| with the remaining arguments; evaluates to check()'s status, which
// names |symbol| as the driver exports it.
#define TERN_CUDA_CALL(driver, doing, symbol, ...)                                              \
  (driver).check((driver).symbol(__VA_ARGS__), #symbol, doing)

// Makes a context current on the calling thread for the scope and restores the caller's own
// afterwards: a session may be used from any thread, and the host application may use CUDA too.
class ContextScope {
public:
  ContextScope(const Driver &driver, CUcontext context);
  ~ContextScope();
  ContextScope(const ContextScope &) = delete;
  ContextScope &operator=(const ContextScope &) = delete;
  // The push's status (null on success); the scope does nothing more when it failed.
  tern_status_t status(const char *doing) const;

private:
  const Driver &driver_;
  CUresult pushed_;
};

} // namespace tern::cuda

#endif
