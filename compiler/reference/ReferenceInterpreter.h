// Executes imported tern IR with the runtime's reference kernels: the independent check that an
// import (readers, mapping, IR semantics) computes what the source framework computes.
#ifndef TERN_COMPILER_REFERENCE_REFERENCEINTERPRETER_H
#define TERN_COMPILER_REFERENCE_REFERENCEINTERPRETER_H

#include "frontends/common/ModelDescription.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <vector>

namespace tern {

class ReferenceInterpreter {
public:
  // |module| must hold the importer's @forward; |model| supplies the weight bytes. Both must
  // outlive the interpreter.
  static llvm::Expected<std::unique_ptr<ReferenceInterpreter>>
  create(mlir::ModuleOp module, const fe::ModelDescription &model);

  // Runs @forward on |tokens| at positions pos..pos+n-1, appending to the KV cache, and
  // returns float32 logits (tokens.size(), vocabSize()).
  llvm::Expected<std::vector<float>> forward(llvm::ArrayRef<int32_t> tokens, int64_t pos);

  int64_t vocabSize() const { return vocab; }
  int64_t contextLength() const { return layout.context; }

private:
  struct Weight {
    std::vector<float> values;    // float weights, dequantized and scaled
    std::vector<int8_t> ternary;  // ternary weights, -1/0/1
    std::vector<float> scales;
    int64_t scaleGroup = 0;
  };
  struct KVLayout {
    int64_t layers = 0, context = 0, kvHeads = 0, headDim = 0;
  };

  ReferenceInterpreter(mlir::ModuleOp module, const fe::ModelDescription &model)
      : module(module), model(model) {}
  llvm::Expected<const Weight *> weight(mlir::Operation *op);

  mlir::ModuleOp module;
  const fe::ModelDescription &model;
  llvm::DenseMap<mlir::Operation *, std::unique_ptr<Weight>> weights;
  KVLayout layout;
  int64_t vocab = 0;
  std::vector<float> kCache, vCache; // (layers, context, kvHeads * headDim)
};

} // namespace tern

#endif
