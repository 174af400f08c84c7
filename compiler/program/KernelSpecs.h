// How each tern op maps to a kernel family of docs/kernels.md: its parameters and the layout
// (column offset, row stride) of the activations it reads.
#ifndef TERN_COMPILER_PROGRAM_KERNELSPECS_H
#define TERN_COMPILER_PROGRAM_KERNELSPECS_H

#include "KernelSpec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"

#include <map>
#include <optional>
#include <string>

namespace tern::program {

// Attribute names shared by the passes and the builder.
inline constexpr llvm::StringLiteral kKernelAttr = "kernel";
inline constexpr llvm::StringLiteral kKernelFamilyAttr = "tern.kernel_family";
inline constexpr llvm::StringLiteral kKernelParamsAttr = "tern.kernel_params";
inline constexpr llvm::StringLiteral kArenaOffsetsAttr = "tern.arena_offsets";
inline constexpr llvm::StringLiteral kRowStridesAttr = "tern.row_strides";
inline constexpr llvm::StringLiteral kInplaceOperandAttr = "tern.inplace_operand";
inline constexpr llvm::StringLiteral kLastRowAttr = "tern.last_row";
inline constexpr llvm::StringLiteral kArenaBytesAttr = "tern.arena_bytes";
inline constexpr llvm::StringLiteral kMaxRowsAttr = "tern.max_rows";
// An op whose kernel runs in the next dispatch, fused with that op's (tern-fuse-gpu-dispatches).
inline constexpr llvm::StringLiteral kFusedIntoNextAttr = "tern.fused_into_next";

// Where an activation's row lives inside the buffer that holds it. Views (slice_columns) and
// in-place results (rope) read their source's storage.
struct ActivationLayout {
  mlir::Value root;          // the value whose kernel allocated the storage
  int64_t columnOffset = 0;  // elements from the start of a root row
  int64_t rowStride = 0;     // elements between consecutive rows (the root's width)
};
ActivationLayout activationLayout(mlir::Value value);

// Whether |value| is a view or in-place result of another value (no storage of its own).
bool isStorageAlias(mlir::Value value);

// Bytes of one element of a row-major activation (f32 or i8).
int64_t elementBytes(mlir::Value value);
// Elements per row: dimension 1 of [rows, width] tensors, 1 for per-row scales [rows].
int64_t rowWidth(mlir::Value value);

// Whether |op| runs a kernel; weights, views and the terminator do not.
bool needsKernel(mlir::Operation *op);

// The kernel |op| runs (symbol left empty). Fails with an error on |op| when no family fits.
mlir::FailureOr<KernelSpec> kernelSpecFor(mlir::Operation *op);

// The float storage a weight or concat of weights gets in the artifact: "f16" for a weight
// whose type a pass changed to f16 (converted), else the source dtype when the kernels read it
// (f32, f16, bf16, q8_0) and no separate scale applies, else "f32". (!tern.quantized weights
// are stored in their format instead: WeightSections::quantizedMatrix.)
std::string floatWeightDtype(mlir::Operation *weightOrConcat);

// n_block for a matmul whose graph did not set one (the logits projection).
int64_t defaultNBlock(int64_t n);

// KernelSpec <-> the attributes of an outlined kernel declaration.
mlir::DictionaryAttr kernelParamsAttr(mlir::MLIRContext *context, const KernelSpec &spec);
KernelSpec kernelSpecFromDeclaration(mlir::func::FuncOp declaration);

// The kernel declarations of a module by spec, so that equal kernels are declared once.
class KernelDeclarations {
public:
  explicit KernelDeclarations(mlir::ModuleOp module);
  // The declaration of |spec|: an existing one, or a new `func.func private
  // @tern_k<i>_<family>` placed before |anchor|.
  mlir::func::FuncOp get(const KernelSpec &spec, mlir::Operation *anchor);

private:
  std::map<KernelSpec, mlir::func::FuncOp> declared_;
  int64_t nextIndex_ = 0;
};

} // namespace tern::program

#endif
