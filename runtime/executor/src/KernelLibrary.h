// Loads a CPU kernel library (an ELF shared object inside the artifact) and its descriptors.
#ifndef TERN_EXECUTOR_KERNELLIBRARY_H
#define TERN_EXECUTOR_KERNELLIBRARY_H

#include "KernelSpec.h"

#include "tern/artifact/Artifact.h"
#include "tern/kernel_abi.h"
#include "tern/tern.h"

#include <vector>

namespace tern {

// One kernel library: descriptors always, function pointers once its code is loaded.
// Unloads the code when destroyed.
struct LoadedKernelLibrary {
  std::vector<KernelSpec> specs;        // parallel to KernelLibrary.kernels
  std::vector<tern_cpu_kernel_fn> fns;  // parallel to |specs|; empty until loadCode
  void *handle = nullptr;               // dlopen handle
  // The memfd the code was loaded from, open while |handle| is: the loader knows the library
  // by its path /proc/self/fd/N and hands an already-loaded library back for the same path,
  // so N must not be reused while the library is loaded.
  int fd = -1;

  LoadedKernelLibrary() = default;
  LoadedKernelLibrary(LoadedKernelLibrary &&other) noexcept;
  LoadedKernelLibrary &operator=(LoadedKernelLibrary &&) = delete;
  ~LoadedKernelLibrary();
};

// The family and parameters of |descriptor| as a KernelSpec. A parameter with a non-empty
// string_value is a string; any other is entered both as an integer (int_value) and as a float
// (float_value), since the schema stores every scalar and the family decides which it reads.
KernelSpec kernelSpecFromDescriptor(const schema::KernelDescriptor &descriptor,
                                    const std::string &symbol);

// Reads library |index|'s descriptors into |*out|; with |loadCode| also checks the kind and
// ABI version, loads the code (from an anonymous memory file, never a path on disk) and
// resolves every kernel symbol and the ABI version symbol.
tern_status_t loadKernelLibrary(const Artifact &artifact, size_t index, bool loadCode,
                                LoadedKernelLibrary *out);

} // namespace tern

#endif
