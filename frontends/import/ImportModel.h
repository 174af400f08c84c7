// Importer: a ModelDescription (from any reader) -> the tern decoder graph as an MLIR module.
#ifndef TERN_FRONTENDS_IMPORT_IMPORTMODEL_H
#define TERN_FRONTENDS_IMPORT_IMPORTMODEL_H

#include "frontends/common/ModelDescription.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"

namespace tern {

struct ImportOptions {
  // KV cache length the graph is specialized for; 0 takes the model's own context length,
  // capped at |maxDefaultContext| so a 128k-context model does not reserve a huge cache by default.
  int64_t contextLength = 0;
  int64_t maxDefaultContext = 4096;
  // Carry the full vocabulary (tokens, scores, types, merges) into the module.
  bool includeVocabulary = true;
};

// Builds `func.func @forward(tokens, pos, kv) -> (logits, kv)` with every weight a `tern.weight`
// reference into the source file. Problems in |model| become located error diagnostics.
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>
importModel(const fe::ModelDescription &model, mlir::MLIRContext &context,
            const ImportOptions &options = {});

// Convenience entry points (read + import), one per frontend.
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>
importGGUF(llvm::StringRef path, mlir::MLIRContext &context, const ImportOptions &options = {});
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>
importSafeTensors(llvm::StringRef path, mlir::MLIRContext &context,
                  const ImportOptions &options = {});

} // namespace tern

#endif
