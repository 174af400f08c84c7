// Access to a kernel's bindings (the ABI's `void* const* bindings`) from generated code.
#ifndef TERN_CODEGEN_CPU_BINDINGS_H
#define TERN_CODEGEN_CPU_BINDINGS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"

namespace tern::cpu {

// The raw pointer (!llvm.ptr) of binding |index|.
mlir::Value loadBindingPointer(mlir::OpBuilder &b, mlir::Location loc, mlir::Value bindings,
                               int64_t index);

// Binding |index| as a memref of |type| (identity layout, offset 0) over that pointer; one
// index value in |dynamicSizes| per dynamic dimension of |type| (e.g. the rows).
mlir::Value loadBindingMemRef(mlir::OpBuilder &b, mlir::Location loc, mlir::Value bindings,
                              int64_t index, mlir::MemRefType type,
                              mlir::ValueRange dynamicSizes);

} // namespace tern::cpu

#endif
