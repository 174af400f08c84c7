// Kernel libraries: descriptors -> KernelSpec, and CPU ELF code loaded through a memfd.
#include "KernelLibrary.h"

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace tern {
namespace {

tern_status_t failLibrary(tern_status_code_t code, const Artifact &artifact, size_t index,
                          const std::string &detail) {
  std::string message =
      artifact.name() + ": kernel_libraries[" + std::to_string(index) + "]: " + detail;
  return tern_status_create(code, message.c_str());
}

bool writeAll(int fd, const uint8_t *data, uint64_t size) {
  while (size > 0) {
    ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR)
      continue;
    if (written <= 0)
      return false;
    data += written;
    size -= uint64_t(written);
  }
  return true;
}

} // namespace

LoadedKernelLibrary::LoadedKernelLibrary(LoadedKernelLibrary &&other) noexcept
    : specs(std::move(other.specs)), fns(std::move(other.fns)), handle(other.handle),
      fd(other.fd) {
  other.handle = nullptr;
  other.fd = -1;
}

LoadedKernelLibrary::~LoadedKernelLibrary() {
  if (handle)
    dlclose(handle);
  if (fd < 0)
    return;
  // A library linked with -z nodelete (or one another dlopen still holds) stays loaded under
  // its /proc/self/fd/N name: keep N open, so that no later library gets that name and with it
  // this library's code.
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (void *resident = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD)) {
    dlclose(resident);
    return;
  }
  ::close(fd);
}

KernelSpec kernelSpecFromDescriptor(const schema::KernelDescriptor &descriptor,
                                    const std::string &symbol) {
  KernelSpec spec;
  spec.symbol = symbol;
  spec.family = descriptor.family() ? descriptor.family()->str() : "";
  if (const auto *params = descriptor.params())
    for (const schema::KernelParam *param : *params) {
      if (!param || !param->name())
        continue;
      std::string name = param->name()->str();
      if (param->string_value() && param->string_value()->size() > 0) {
        spec.strings[name] = param->string_value()->str();
      } else {
        spec.ints[name] = param->int_value();
        spec.floats[name] = param->float_value();
      }
    }
  return spec;
}

tern_status_t loadKernelLibrary(const Artifact &artifact, size_t index, bool loadCode,
                                LoadedKernelLibrary *out) {
  const schema::KernelLibrary &library =
      *artifact.root().kernel_libraries()->Get(flatbuffers::uoffset_t(index));
  const size_t numKernels = library.kernels() ? library.kernels()->size() : 0;
  const size_t numDescriptors = library.descriptors() ? library.descriptors()->size() : 0;
  if (numDescriptors != numKernels)
    return failLibrary(TERN_STATUS_DATA_LOSS, artifact, index,
                       "field descriptors has " + std::to_string(numDescriptors) +
                           " entries, expected one per kernel (" + std::to_string(numKernels) +
                           ")");
  out->specs.clear();
  out->specs.reserve(numKernels);
  for (size_t k = 0; k < numKernels; ++k) {
    const flatbuffers::String *symbol = library.kernels()->Get(flatbuffers::uoffset_t(k));
    out->specs.push_back(kernelSpecFromDescriptor(
        *library.descriptors()->Get(flatbuffers::uoffset_t(k)), symbol ? symbol->str() : ""));
  }
  if (!loadCode)
    return nullptr;

  if (library.kind() != schema::KernelLibraryKind::CpuElf)
    return failLibrary(TERN_STATUS_UNIMPLEMENTED, artifact, index,
                       std::string("kind ") + schema::EnumNameKernelLibraryKind(library.kind()) +
                           " cannot run on this CPU runtime (expected CpuElf)");
  if (library.abi_version() != TERN_KERNEL_ABI_VERSION)
    return failLibrary(TERN_STATUS_UNIMPLEMENTED, artifact, index,
                       "field abi_version is " + std::to_string(library.abi_version()) +
                           " but this runtime implements kernel ABI " +
                           std::to_string(TERN_KERNEL_ABI_VERSION) +
                           "; recompile the model with a matching ternc");

  // dlopen needs a file; an anonymous memory file keeps the code off the disk and needs no
  // writable directory.
  SectionBytes bytes = artifact.sectionBytes(library.section());
  int fd = memfd_create("tern-kernels", MFD_CLOEXEC);
  if (fd < 0)
    return failLibrary(TERN_STATUS_UNAVAILABLE, artifact, index,
                       std::string("memfd_create failed: ") + std::strerror(errno));
  if (!writeAll(fd, bytes.data, bytes.size)) {
    int error = errno;
    ::close(fd);
    return failLibrary(TERN_STATUS_RESOURCE_EXHAUSTED, artifact, index,
                       std::string("cannot copy the library into memory: ") +
                           std::strerror(error));
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  out->handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (out->handle)
    out->fd = fd; // closed after dlclose: see LoadedKernelLibrary::fd
  else
    ::close(fd);
  if (!out->handle) {
    const char *why = dlerror();
    return failLibrary(TERN_STATUS_DATA_LOSS, artifact, index,
                       std::string("the CPU kernel library (section ") +
                           std::to_string(library.section()) +
                           ") does not load: " + (why ? why : "unknown dlopen error"));
  }
  const auto *version =
      static_cast<const uint32_t *>(dlsym(out->handle, TERN_KERNEL_ABI_VERSION_SYMBOL));
  if (!version)
    return failLibrary(TERN_STATUS_NOT_FOUND, artifact, index,
                       "the library does not export the symbol '" TERN_KERNEL_ABI_VERSION_SYMBOL
                       "'");
  if (*version != TERN_KERNEL_ABI_VERSION)
    return failLibrary(TERN_STATUS_UNIMPLEMENTED, artifact, index,
                       "the library's " TERN_KERNEL_ABI_VERSION_SYMBOL " is " +
                           std::to_string(*version) + " but this runtime implements kernel ABI " +
                           std::to_string(TERN_KERNEL_ABI_VERSION));
  out->fns.assign(numKernels, nullptr);
  for (size_t k = 0; k < numKernels; ++k) {
    const std::string &symbol = out->specs[k].symbol;
    out->fns[k] = reinterpret_cast<tern_cpu_kernel_fn>(dlsym(out->handle, symbol.c_str()));
    if (symbol.empty() || !out->fns[k])
      return failLibrary(TERN_STATUS_NOT_FOUND, artifact, index,
                         "kernels[" + std::to_string(k) + "]: the library does not export '" +
                             symbol + "'");
  }
  return nullptr;
}

} // namespace tern
