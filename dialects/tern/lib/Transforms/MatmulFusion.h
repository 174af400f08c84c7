//===- MatmulFusion.h - shared steps of the QKV and gate/up fusions -------===//
#ifndef TERN_LIB_TRANSFORMS_MATMULFUSION_H
#define TERN_LIB_TRANSFORMS_MATMULFUSION_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "tern/Dialect/TernOps.h"

namespace mlir::tern {

/// Merges every tern.quantize_act of a value into the first one of that value in the
/// same block, so that matmuls of one input share their quantized operands.
void mergeDuplicateQuantizeAct(func::FuncOp func);

/// The operand that identifies a matmul's input: the quantized rows of a
/// tern.ternary_matmul, the float rows of a tern.matmul.
Value matmulInput(Operation *matmul);

/// Groups the tern.ternary_matmul / tern.matmul ops of |func| by their input, in
/// program order; only matmuls of one block share a group.
SmallVector<SmallVector<Operation *>> groupMatmulsByInput(func::FuncOp func);

/// Whether |matmuls| can become one matmul over tern.concat_weights of their weights:
/// same op kind and block, weights defined by tern.weight and stackable.
bool canFuseMatmuls(ArrayRef<Operation *> matmuls);

/// Replaces |matmuls| (checked by canFuseMatmuls) by one matmul over the concatenation
/// of their weights, in the given order, placed where the first of them in the block
/// was; returns one tern.slice_columns of the fused result per original matmul, whose
/// uses it has taken over. The original matmuls are erased.
SmallVector<Value> fuseMatmuls(ArrayRef<Operation *> matmuls);

} // namespace mlir::tern

#endif // TERN_LIB_TRANSFORMS_MATMULFUSION_H
