// Entry points of the format readers: a path in, a ModelDescription (or a diagnostic) out.
#ifndef TERN_FRONTENDS_COMMON_MODELFORMATS_H
#define TERN_FRONTENDS_COMMON_MODELFORMATS_H

#include "frontends/common/ModelDescription.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace tern::fe {

// Parse errors (truncated file, bad magic, offsets past the end, ...) come back as an llvm::Error
// whose message starts with the file path and names the key or tensor at fault. A file that parses
// but cannot be compiled (unknown architecture, missing tensor) gives a description whose
// |problems| say why.
llvm::Expected<ModelDescription> describeGGUF(llvm::StringRef path);
llvm::Expected<ModelDescription> describeSafeTensors(llvm::StringRef path); // dir, .safetensors or index.json

// Picks the reader from the path: a directory or *.safetensors / *.index.json -> SafeTensors,
// a file starting with "GGUF" -> GGUF, a *.onnx file -> ONNX (when built with protobuf and
// libonnx-dev); anything else is an error that says what was expected.
llvm::Expected<ModelDescription> describeModel(llvm::StringRef path);

} // namespace tern::fe

#endif
