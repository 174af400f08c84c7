// ONNX decoder-only transformer graphs -> the format-independent ModelDescription.
#ifndef TERN_FRONTENDS_ONNX_ONNXDECODER_H
#define TERN_FRONTENDS_ONNX_ONNXDECODER_H

#include "frontends/common/ModelDescription.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace tern::onnx {

// Reads |path| and recognizes its decoder: token embedding, per-layer norms, attention
// (com.microsoft GroupQueryAttention / Attention or standard ops), FFN, final norm and lm_head.
// Read errors come back as an llvm::Error naming the file; a graph that parses but does not map
// gives a description whose |problems| name the node, op, domain and opset at fault. A
// tokenizer.json next to the file supplies the vocabulary.
llvm::Expected<fe::ModelDescription> describeONNXDecoder(llvm::StringRef path);

} // namespace tern::onnx

#endif
