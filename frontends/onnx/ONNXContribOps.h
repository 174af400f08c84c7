// Reference implementations of the ONNX Runtime contrib ops (domain com.microsoft) that pattern
// checks evaluate inside a subgraph. Only what the decoder mapping needs; everything else is
// refused with errc::not_supported, as the standard evaluator does.
#ifndef TERN_FRONTENDS_ONNX_ONNXCONTRIBOPS_H
#define TERN_FRONTENDS_ONNX_ONNXCONTRIBOPS_H

#include "frontends/onnx/ONNXTensor.h"

#include "llvm/Support/Error.h"

#include <onnx/onnx_pb.h>

#include <optional>
#include <vector>

namespace tern::onnx {

bool isContribEvaluatorOp(llvm::StringRef domain, llvm::StringRef opType);

// RotaryEmbedding (com.microsoft, since 1): input [batch, seq, heads x head] (num_heads set) or
// [batch, heads, seq, head]; position_ids [batch, seq] or one start offset; cos/sin caches
// [positions, rotary_dim / 2]; interleaved pairs (2i, 2i+1) or halves (i, i + rotary_dim / 2).
llvm::Expected<std::vector<Tensor>>
evaluateContribNode(const ::onnx::NodeProto &node, llvm::ArrayRef<std::optional<Tensor>> inputs);

} // namespace tern::onnx

#endif
