// What the CPU and PTX backends share around their generators: diagnostics turned into errors,
// the LLVM O3 pipeline, code emission through a TargetMachine, and scf loop/branch builders.
#ifndef TERN_CODEGEN_COMMON_CODEGENSUPPORT_H
#define TERN_CODEGEN_COMMON_CODEGENSUPPORT_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/MLIRContext.h"
#include "runtime/kernels/KernelSpec.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/CodeGen.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <string>

namespace llvm {
class Module;
class TargetMachine;
} // namespace llvm

namespace tern::codegen {

// Collects the error diagnostics of |ctx| while alive, so that a failed generation or
// lowering comes back as llvm::Error text: "<backend> codegen: <what>: <diagnostics>".
class DiagnosticCollector {
public:
  DiagnosticCollector(mlir::MLIRContext &ctx, std::string backend);
  llvm::Error error(llvm::StringRef what) const;

private:
  std::string backend_;
  std::string text_;
  mlir::ScopedDiagnosticHandler handler_;
};

// LLVM's default O3 module pipeline for |tm|'s target.
void optimizeAtO3(llvm::Module &module, llvm::TargetMachine &tm);

// |module| as assembly text or an object file through |tm|.
llvm::Expected<llvm::SmallVector<char, 0>> emitCode(llvm::Module &module, llvm::TargetMachine &tm,
                                                    llvm::CodeGenFileType kind);

// scf.for from |lb| to |ub| by |step| (index or integer values) with loop-carried values;
// |body| returns the next ones.
using LoopBody = std::function<llvm::SmallVector<mlir::Value>(
    mlir::ImplicitLocOpBuilder &, mlir::Value iv, mlir::ValueRange carried)>;
llvm::SmallVector<mlir::Value> forLoop(mlir::ImplicitLocOpBuilder &b, mlir::Value lb,
                                       mlir::Value ub, mlir::Value step, mlir::ValueRange init,
                                       const LoopBody &body);
// Without loop-carried values.
void forLoop(mlir::ImplicitLocOpBuilder &b, mlir::Value lb, mlir::Value ub, mlir::Value step,
             const std::function<void(mlir::ImplicitLocOpBuilder &, mlir::Value iv)> &body);

// What an RMS norm reads besides x (docs/kernels.md): a residual added to x first, or the
// up half of a gated input, relu2(gate) * up, whose two rows share one stride.
struct FusedNormInput {
  bool residual = false;
  bool gated = false;
  int64_t inStride = 0; // row stride of gate and up; the width when not gated
  // Bindings after x shift by one with a residual or with up (never both).
  int bindingShift() const { return residual || gated ? 1 : 0; }
};

// Reads "residual", "gated", "activation" and "in_stride" of |spec| for a norm of |width|
// values per row; a family that takes no fused input (|fusable| false) reads none of them.
// The error names the parameter that is out of range.
llvm::Expected<FusedNormInput> readFusedNormInput(const KernelSpec &spec, int64_t width,
                                                  bool fusable);

} // namespace tern::codegen

#endif
