// Helpers shared by the CPU kernel generators (see KernelBuilder.h).
#include "codegen/CPU/KernelBuilder.h"

#include "codegen/CPU/Bindings.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace tern::cpu {

using namespace mlir;

KernelArgs beginKernel(func::FuncOp fn, ImplicitLocOpBuilder &b) {
  Block &entry = fn.getBody().front();
  b.setInsertionPointToStart(&entry);
  KernelArgs args;
  args.bindings = entry.getArgument(0);
  auto toIndex = [&](unsigned i) -> Value {
    return arith::IndexCastOp::create(b, b.getIndexType(), entry.getArgument(i));
  };
  args.rows = toIndex(1);
  args.pos = toIndex(2);
  args.begin = toIndex(3);
  args.end = toIndex(4);
  return args;
}

Value bindFlat(ImplicitLocOpBuilder &b, const KernelArgs &args, int64_t index, Type elementType,
               Value size) {
  auto type = MemRefType::get({ShapedType::kDynamic}, elementType);
  return loadBindingMemRef(b, b.getLoc(), args.bindings, index, type, ValueRange{size});
}

Value bindFlat(ImplicitLocOpBuilder &b, const KernelArgs &args, int64_t index, Type elementType,
               int64_t size) {
  auto type = MemRefType::get({size}, elementType);
  return loadBindingMemRef(b, b.getLoc(), args.bindings, index, type, ValueRange{});
}

RowSlice rowSlice(ImplicitLocOpBuilder &b, const KernelArgs &args, const KernelSpec &spec) {
  if (spec.getInt("row_items", 0) <= 0)
    return {constIndex(b, 0), args.rows};
  return {arith::MinUIOp::create(b, args.begin, args.rows),
          arith::MinUIOp::create(b, args.end, args.rows)};
}

Value constIndex(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}

Value constInt(ImplicitLocOpBuilder &b, Type type, int64_t v) {
  if (auto vec = dyn_cast<VectorType>(type))
    return arith::ConstantOp::create(
        b, vec, DenseElementsAttr::get(vec, b.getIntegerAttr(vec.getElementType(), v)));
  return arith::ConstantOp::create(b, type, b.getIntegerAttr(type, v));
}

Value constFloat(ImplicitLocOpBuilder &b, Type type, double v) {
  if (auto vec = dyn_cast<VectorType>(type))
    return arith::ConstantOp::create(
        b, vec, DenseElementsAttr::get(vec, b.getFloatAttr(vec.getElementType(), v)));
  return arith::ConstantOp::create(b, type, b.getFloatAttr(type, v));
}

Value addConst(ImplicitLocOpBuilder &b, Value base, int64_t offset) {
  return offset == 0 ? base : Value(arith::AddIOp::create(b, base, constIndex(b, offset)));
}

void forEachOutputTile(ImplicitLocOpBuilder &b, const KernelArgs &args, int64_t nBlock,
                       int64_t rowTile, int64_t colTile, const OutputTileBody &tile,
                       const RowTileBody &beforeRows) {
  forLoop(b, args.begin, args.end, constIndex(b, 1), [&](ImplicitLocOpBuilder &ib, Value item) {
    Value firstCol = arith::MulIOp::create(ib, item, constIndex(ib, nBlock));
    Value lastCol = arith::AddIOp::create(ib, firstCol, constIndex(ib, nBlock));
    auto rowsOf = [&](ImplicitLocOpBuilder &rb, Value t0, int64_t rt) {
      if (beforeRows)
        beforeRows(rb, t0, rt);
      forLoop(rb, firstCol, lastCol, constIndex(rb, colTile),
              [&](ImplicitLocOpBuilder &cb, Value j) { tile(cb, t0, j, rt); });
    };
    Value tileCount = arith::DivUIOp::create(ib, args.rows, constIndex(ib, rowTile));
    Value tiled = arith::MulIOp::create(ib, tileCount, constIndex(ib, rowTile));
    forLoop(ib, constIndex(ib, 0), tiled, constIndex(ib, rowTile),
            [&](ImplicitLocOpBuilder &rb, Value t0) { rowsOf(rb, t0, rowTile); });
    forLoop(ib, tiled, args.rows, constIndex(ib, 1),
            [&](ImplicitLocOpBuilder &rb, Value t0) { rowsOf(rb, t0, 1); });
  });
}

int64_t f32Lanes(const CpuTarget &target) {
  return target.hasAVX512 ? 16 : target.hasAVX2 ? 8 : 4;
}

SmallVector<Value> forChunks(ImplicitLocOpBuilder &b, int64_t width, int64_t lanes,
                             ValueRange init, const ChunkBody &chunk) {
  const int64_t full = width / lanes * lanes;
  SmallVector<Value> carried(init);
  if (full > 0)
    carried = forLoop(b, constIndex(b, 0), constIndex(b, full), constIndex(b, lanes), carried,
                      [&](ImplicitLocOpBuilder &nb, Value iv, ValueRange c) {
                        return chunk(nb, iv, lanes, c);
                      });
  if (width > full)
    carried = chunk(b, constIndex(b, full), width - full, carried);
  return carried;
}

Value loadVector(ImplicitLocOpBuilder &b, Value memref, Value offset, int64_t lanes) {
  auto elementType = cast<MemRefType>(memref.getType()).getElementType();
  return vector::LoadOp::create(b, VectorType::get({lanes}, elementType), memref,
                                ValueRange{offset});
}

void storeVector(ImplicitLocOpBuilder &b, Value value, Value memref, Value offset) {
  vector::StoreOp::create(b, value, memref, ValueRange{offset});
}

Value extF(ImplicitLocOpBuilder &b, Type type, Value v) {
  return arith::ExtFOp::create(b, type, v, arith::FastMathFlagsAttr());
}

Value reduceAdd(ImplicitLocOpBuilder &b, Value vector) {
  return vector::ReductionOp::create(b, vector::CombiningKind::ADD, vector);
}

Value reduceMax(ImplicitLocOpBuilder &b, Value vector) {
  auto elementType = cast<VectorType>(vector.getType()).getElementType();
  auto kind = isa<FloatType>(elementType) ? vector::CombiningKind::MAXNUMF
                                          : vector::CombiningKind::MAXSI;
  return vector::ReductionOp::create(b, kind, vector);
}

// Same shape as |like| with element type |element|.
static Type withElement(Type like, Type element) {
  if (auto vec = dyn_cast<VectorType>(like))
    return VectorType::get(vec.getShape(), element);
  return element;
}

Value halfBitsToF32(ImplicitLocOpBuilder &b, Value bits) {
  Type i32 = withElement(bits.getType(), b.getI32Type());
  Type f32 = withElement(bits.getType(), b.getF32Type());
  Value u = arith::ExtUIOp::create(b, i32, bits);
  Value sign = arith::ShLIOp::create(
      b, arith::AndIOp::create(b, u, constInt(b, i32, 0x8000)), constInt(b, i32, 16));
  Value magnitude = arith::AndIOp::create(b, u, constInt(b, i32, 0x7fff));
  Value shifted = arith::ShLIOp::create(b, magnitude, constInt(b, i32, 13));
  // Moving the 5-bit exponent into f32's 8-bit field and scaling by 2^(127-15) is exact for
  // normals and subnormals alike.
  Value scaled = arith::MulFOp::create(b, arith::BitcastOp::create(b, f32, shifted),
                                       constFloat(b, f32, 0x1p112));
  Value infOrNan = arith::CmpIOp::create(b, arith::CmpIPredicate::uge, magnitude,
                                         constInt(b, i32, 0x7c00));
  Value special = arith::OrIOp::create(b, shifted, constInt(b, i32, 0x7f800000));
  Value magnitudeBits = arith::SelectOp::create(b, infOrNan, special,
                                                arith::BitcastOp::create(b, i32, scaled));
  return arith::BitcastOp::create(b, f32, arith::OrIOp::create(b, magnitudeBits, sign));
}

Value bf16BitsToF32(ImplicitLocOpBuilder &b, Value bits) {
  Type i32 = withElement(bits.getType(), b.getI32Type());
  Type f32 = withElement(bits.getType(), b.getF32Type());
  Value u = arith::ExtUIOp::create(b, i32, bits);
  return arith::BitcastOp::create(b, f32, arith::ShLIOp::create(b, u, constInt(b, i32, 16)));
}

Value roundHalfEven(ImplicitLocOpBuilder &b, Value v) {
  // Adding and subtracting 1.5 * 2^23 leaves no fraction bits, and the addition rounds in the
  // default mode: to nearest, ties to even. No fast-math flags, so LLVM keeps both steps.
  Value magic = constFloat(b, v.getType(), 12582912.0);
  return arith::SubFOp::create(b, arith::AddFOp::create(b, v, magic), magic);
}

LogicalResult kernelError(func::FuncOp fn, const KernelSpec &spec, const llvm::Twine &message) {
  return fn.emitError() << "kernel '" << spec.symbol << "' (family " << spec.family
                        << "): " << message.str();
}

Value callIntrinsic(ImplicitLocOpBuilder &b, Type result, StringRef name, ValueRange args) {
  return LLVM::CallIntrinsicOp::create(b, result, b.getStringAttr(name), args).getResult(0);
}

Value stackBuffer(ImplicitLocOpBuilder &b, int64_t bytes, int64_t alignment) {
  return LLVM::AllocaOp::create(b, LLVM::LLVMPointerType::get(b.getContext()), b.getI8Type(),
                                constInt(b, b.getI64Type(), bytes), alignment);
}

Value bytePointer(ImplicitLocOpBuilder &b, Value base, Value offset) {
  Value bytes = offset.getType().isIndex()
                    ? Value(arith::IndexCastOp::create(b, b.getI64Type(), offset))
                    : offset;
  return LLVM::GEPOp::create(b, LLVM::LLVMPointerType::get(b.getContext()), b.getI8Type(), base,
                             ValueRange{bytes});
}

void prefetchByte(ImplicitLocOpBuilder &b, Value base, Value at, int locality) {
  LLVM::Prefetch::create(b, bytePointer(b, base, at), /*rw=*/0, locality, /*cache=*/1);
}

// Unpacks of 32-bit then 64-bit pairs, then 128-bit halves (24 two-source shuffles).
SmallVector<Value> transpose8x8(ImplicitLocOpBuilder &b, ArrayRef<Value> rows) {
  auto shuffle = [&](Value x, Value y, ArrayRef<int64_t> mask) {
    return Value(vector::ShuffleOp::create(b, x, y, mask));
  };
  const int64_t lo32[] = {0, 8, 1, 9, 4, 12, 5, 13}, hi32[] = {2, 10, 3, 11, 6, 14, 7, 15};
  const int64_t lo64[] = {0, 1, 8, 9, 4, 5, 12, 13}, hi64[] = {2, 3, 10, 11, 6, 7, 14, 15};
  const int64_t lo128[] = {0, 1, 2, 3, 8, 9, 10, 11}, hi128[] = {4, 5, 6, 7, 12, 13, 14, 15};
  SmallVector<Value> pairs; // lo(r0, r1), hi(r0, r1), lo(r2, r3), ...
  for (int64_t r = 0; r < 8; r += 2) {
    pairs.push_back(shuffle(rows[r], rows[r + 1], lo32));
    pairs.push_back(shuffle(rows[r], rows[r + 1], hi32));
  }
  SmallVector<Value> quads(8);
  for (int64_t q = 0; q < 8; q += 4) {
    quads[q] = shuffle(pairs[q], pairs[q + 2], lo64);
    quads[q + 1] = shuffle(pairs[q], pairs[q + 2], hi64);
    quads[q + 2] = shuffle(pairs[q + 1], pairs[q + 3], lo64);
    quads[q + 3] = shuffle(pairs[q + 1], pairs[q + 3], hi64);
  }
  SmallVector<Value> columns(8);
  for (int64_t j = 0; j < 4; ++j) {
    columns[j] = shuffle(quads[j], quads[j + 4], lo128);
    columns[j + 4] = shuffle(quads[j], quads[j + 4], hi128);
  }
  return columns;
}

} // namespace tern::cpu
