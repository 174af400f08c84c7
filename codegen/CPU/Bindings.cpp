// Loads binding pointers from the kernel ABI's bindings array and wraps them as memrefs.
#include "codegen/CPU/Bindings.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMTypes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinOps.h"

namespace tern::cpu {

using namespace mlir;

Value loadBindingPointer(OpBuilder &b, Location loc, Value bindings, int64_t index) {
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  Value slot = LLVM::GEPOp::create(b, loc, ptrType, ptrType, bindings,
                                   ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(index)});
  return LLVM::LoadOp::create(b, loc, ptrType, slot);
}

Value loadBindingMemRef(OpBuilder &b, Location loc, Value bindings, int64_t index,
                        MemRefType type, ValueRange dynamicSizes) {
  MLIRContext *ctx = b.getContext();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  auto i64 = b.getI64Type();
  const int64_t rank = type.getRank();
  assert(static_cast<int64_t>(dynamicSizes.size()) == type.getNumDynamicDims() &&
         "one size per dynamic dimension");

  // The descriptor MemRefToLLVM expects: {allocated, aligned, offset, sizes[rank], strides[rank]}.
  SmallVector<Type> fields = {ptrType, ptrType, i64};
  if (rank > 0) {
    fields.push_back(LLVM::LLVMArrayType::get(i64, rank));
    fields.push_back(LLVM::LLVMArrayType::get(i64, rank));
  }
  auto descType = LLVM::LLVMStructType::getLiteral(ctx, fields);

  Value ptr = loadBindingPointer(b, loc, bindings, index);
  auto constI64 = [&](int64_t v) -> Value {
    return LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(v));
  };
  Value desc = LLVM::UndefOp::create(b, loc, descType);
  desc = LLVM::InsertValueOp::create(b, loc, desc, ptr, ArrayRef<int64_t>{0});
  desc = LLVM::InsertValueOp::create(b, loc, desc, ptr, ArrayRef<int64_t>{1});
  desc = LLVM::InsertValueOp::create(b, loc, desc, constI64(0), ArrayRef<int64_t>{2});

  // Sizes as i64 values (dynamic ones converted from index), then identity-layout strides.
  SmallVector<Value> sizes;
  unsigned nextDynamic = 0;
  for (int64_t d = 0; d < rank; ++d) {
    if (type.isDynamicDim(d)) {
      Value size = dynamicSizes[nextDynamic++];
      if (size.getType().isIndex())
        size = arith::IndexCastOp::create(b, loc, i64, size);
      sizes.push_back(size);
    } else {
      sizes.push_back(constI64(type.getDimSize(d)));
    }
  }
  Value stride = constI64(1);
  for (int64_t d = rank - 1; d >= 0; --d) {
    desc = LLVM::InsertValueOp::create(b, loc, desc, sizes[d], ArrayRef<int64_t>{3, d});
    desc = LLVM::InsertValueOp::create(b, loc, desc, stride, ArrayRef<int64_t>{4, d});
    if (d > 0)
      stride = LLVM::MulOp::create(b, loc, stride, sizes[d]);
  }
  return UnrealizedConversionCastOp::create(b, loc, TypeRange{type}, ValueRange{desc})
      .getResult(0);
}

} // namespace tern::cpu
