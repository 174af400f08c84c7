// Links a kernel object file into an ELF shared object with ld.lld (LLVM 22).
#include "codegen/CPU/Lowering.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

namespace tern::cpu {
namespace {

llvm::Expected<std::string> findLinker() {
  for (const char *name : {"ld.lld-22", "ld.lld"})
    if (llvm::ErrorOr<std::string> path = llvm::sys::findProgramByName(name))
      return *path;
  const char *fallback = "/usr/lib/llvm-22/bin/ld.lld";
  if (llvm::sys::fs::can_execute(fallback))
    return std::string(fallback);
  return llvm::createStringError("CPU codegen: no ELF linker found (looked for ld.lld-22 and "
                                 "ld.lld on PATH and %s); install lld-22",
                                 fallback);
}

// Removes its files when the link is done, whatever the outcome.
struct TempFiles {
  llvm::SmallVector<llvm::SmallString<128>> paths;
  ~TempFiles() {
    for (auto &path : paths)
      llvm::sys::fs::remove(path);
  }
};

} // namespace

llvm::Expected<std::vector<uint8_t>> linkSharedObject(llvm::ArrayRef<char> object) {
  llvm::Expected<std::string> linker = findLinker();
  if (!linker)
    return linker.takeError();

  TempFiles temps;
  llvm::SmallString<128> objectPath, libraryPath, logPath;
  int objectFd = -1;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("tern-kernels", "o", objectFd,
                                                              objectPath))
    return llvm::createStringError(ec, "CPU codegen: cannot create a temporary object file");
  temps.paths.push_back(objectPath);
  {
    llvm::raw_fd_ostream os(objectFd, /*shouldClose=*/true);
    os.write(object.data(), object.size());
    if (os.has_error())
      return llvm::createStringError(os.error(), "CPU codegen: cannot write %s",
                                     objectPath.c_str());
  }
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("tern-kernels", "so", libraryPath))
    return llvm::createStringError(ec, "CPU codegen: cannot create a temporary library path");
  temps.paths.push_back(libraryPath);
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("tern-kernels", "log", logPath))
    return llvm::createStringError(ec, "CPU codegen: cannot create a temporary log path");
  temps.paths.push_back(logPath);

  // --no-undefined: kernels must not call anything (no libm, no compiler-rt), since the
  // runtime loads the library into processes that may not provide it.
  llvm::SmallVector<llvm::StringRef> argv = {*linker,          "-shared",     "--no-undefined",
                                             "-z",             "noexecstack", "--build-id=none",
                                             "-o",             libraryPath,   objectPath};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(logPath),
                                                llvm::StringRef(logPath)};
  std::string execError;
  int rc = llvm::sys::ExecuteAndWait(*linker, argv, std::nullopt, redirects, 0, 0, &execError);
  if (rc != 0) {
    std::string log;
    if (auto buffer = llvm::MemoryBuffer::getFile(logPath))
      log = (*buffer)->getBuffer().str();
    return llvm::createStringError("CPU codegen: %s failed (exit %d)%s%s: %s", linker->c_str(),
                                   rc, execError.empty() ? "" : ", ", execError.c_str(),
                                   log.c_str());
  }
  auto buffer = llvm::MemoryBuffer::getFile(libraryPath, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError(buffer.getError(), "CPU codegen: cannot read %s",
                                   libraryPath.c_str());
  llvm::StringRef bytes = (*buffer)->getBuffer();
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

} // namespace tern::cpu
