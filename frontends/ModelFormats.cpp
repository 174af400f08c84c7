// Chooses the reader for a path the user gave: SafeTensors directory/file, GGUF or ONNX file.
#include "frontends/common/ModelFormats.h"

#ifdef TERN_HAVE_ONNX
#include "frontends/onnx/ONNXDecoder.h"
#endif

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

namespace tern::fe {

llvm::Expected<ModelDescription> describeModel(llvm::StringRef path) {
  if (!llvm::sys::fs::exists(path))
    return llvm::createStringError("%s: no such file or directory", path.str().c_str());
  if (llvm::sys::fs::is_directory(path) || path.ends_with(".safetensors") ||
      path.ends_with(".safetensors.index.json"))
    return describeSafeTensors(path);

  uint64_t size = 0;
  if (std::error_code ec = llvm::sys::fs::file_size(path, size))
    return llvm::createStringError("%s: cannot read: %s", path.str().c_str(), ec.message().c_str());
  if (size < 4)
    return llvm::createStringError("%s: file is %llu bytes, too short to be a model file",
                                   path.str().c_str(), static_cast<unsigned long long>(size));
  // Decide by content, not by extension: a GGUF file starts with the magic "GGUF".
  auto head = llvm::MemoryBuffer::getFileSlice(path, 4, 0);
  if (!head)
    return llvm::createStringError("%s: cannot read: %s", path.str().c_str(),
                                   head.getError().message().c_str());
  if ((*head)->getBuffer() == "GGUF")
    return describeGGUF(path);
  if (path.ends_with(".onnx")) {
#ifdef TERN_HAVE_ONNX
    return onnx::describeONNXDecoder(path);
#else
    return llvm::createStringError("%s: this build has no ONNX frontend (protobuf and libonnx-dev "
                                   "were not found; run scripts/bootstrap.sh and rebuild)",
                                   path.str().c_str());
#endif
  }
  return llvm::createStringError(
      "%s: unrecognised model file (first bytes '%s'); expected a GGUF file (magic \"GGUF\"), a "
      "*.safetensors file, a model.safetensors.index.json or a Hugging Face model directory",
      path.str().c_str(), llvm::toHex((*head)->getBuffer()).c_str());
}

} // namespace tern::fe
