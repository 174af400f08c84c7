// embedding: out[t] = decode(table[tokens[t]]), one thread per 4 consecutive outputs of a row.
// position_embedding is the same gather from a (positions, width) table with row pos + t.
//
// Grid (blocks over the row, rows): a 2560-wide row is 640 chunks, three blocks; every dtype
// reads its 4 values with one or two loads (f32 16 bytes, f16/bf16 8, q8_0 two 2-byte loads as
// its 34-byte blocks are only 2-byte aligned, q8/q4/q6_b32 4-byte code loads and one f16 scale).
// Each value is decoded exactly as the reference does: f16/bf16 widened, block formats
// d * float(code) in one float multiply, so the outputs equal the reference's bit for bit.
#include "codegen/GPU/GPUKernelBuilder.h"
#include "codegen/GPU/GPUKernelGenerators.h"
#include "packing/QuantizedPacking.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include <algorithm>

namespace tern::gpu {

using namespace mlir;

namespace {

constexpr int64_t kThreads = 256;
constexpr int64_t kQ8_0BlockBytes = 34; // llama.cpp q8_0: f16 scale + 32 int8

enum class TableType { F32, F16, BF16, Q8_0, Q8B32, Q4B32, Q6B32 };

bool parseTableType(const std::string &name, TableType *out) {
  static const std::pair<const char *, TableType> kNames[] = {
      {"f32", TableType::F32},     {"f16", TableType::F16},     {"bf16", TableType::BF16},
      {"q8_0", TableType::Q8_0},   {"q8_b32", TableType::Q8B32}, {"q4_b32", TableType::Q4B32},
      {"q6_b32", TableType::Q6B32}};
  for (const auto &[n, t] : kNames)
    if (name == n) {
      *out = t;
      return true;
    }
  return false;
}

bool blockFormat(TableType t) {
  return t == TableType::Q8_0 || t == TableType::Q8B32 || t == TableType::Q4B32 ||
         t == TableType::Q6B32;
}

// Values per thread: 4 when rows split into 4-element chunks (always for the block formats).
int64_t vectorWidth(int64_t width) { return width % 4 == 0 ? 4 : 1; }

} // namespace

llvm::Expected<LaunchShape> launchEmbedding(const KernelSpec &spec, int64_t maxRows,
                                            const GpuTarget &) {
  const int64_t width = spec.getInt("width");
  if (width <= 0)
    return llvm::createStringError("%s: parameter 'width' must be positive", spec.symbol.c_str());
  if (maxRows > 65535)
    return llvm::createStringError("%s: %lld rows exceed the grid's y dimension",
                                   spec.symbol.c_str(), (long long)maxRows);
  const int64_t chunks = width / vectorWidth(width);
  LaunchShape shape;
  shape.block = {uint32_t(kThreads), 1, 1};
  shape.grid = {uint32_t((chunks + kThreads - 1) / kThreads),
                uint32_t(std::max<int64_t>(1, maxRows)), 1};
  return shape;
}

LogicalResult generateEmbedding(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                                const GpuTarget &) {
  const bool positional = spec.family == "position_embedding";
  const std::string rowsName = positional ? "positions" : "vocab";
  const int64_t vocab = spec.getInt(rowsName), width = spec.getInt("width"); // table rows
  if (vocab <= 0 || width <= 0)
    return gpuKernelError(fn, spec, "parameters '" + rowsName + "' and 'width' must be positive");
  TableType dtype;
  if (!parseTableType(spec.getString("dtype"), &dtype))
    return gpuKernelError(fn, spec, "parameter 'dtype' is '" + spec.getString("dtype") +
                                        "'; expected f32, f16, bf16, q8_0, q8_b32, q6_b32 or q4_b32");
  if (blockFormat(dtype) && width % 32 != 0)
    return gpuKernelError(fn, spec, "parameter 'width' (" + llvm::Twine(width) +
                                        ") must be a multiple of 32 for dtype " +
                                        spec.getString("dtype"));
  const int64_t vec = vectorWidth(width);
  packing::QuantFormat format = packing::QuantFormat::Q8B32;
  if (dtype == TableType::Q4B32)
    format = packing::QuantFormat::Q4B32;
  else if (dtype == TableType::Q6B32)
    format = packing::QuantFormat::Q6B32;
  // Block-quantized tables: codes plane of vocab rows, then the f16 scale plane.
  const int64_t codeRowBytes = packing::quantRowCodeBytes(format, width);
  const int64_t scaleOffset = packing::quantScaleOffset(format, vocab, width);

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i16 = b.getI16Type(), i32 = b.getI32Type();
  // position_embedding binds no tokens: (table, out).
  Value table = args.bindings[0], out = args.bindings.back();
  Value tokens = positional ? Value() : args.bindings[1];

  Value row = toI64(b, blockIdY(b));
  Value chunk = toI64(b, arith::AddIOp::create(
                             b, arith::MulIOp::create(b, blockIdX(b), constI32(b, kThreads)),
                             threadIdX(b)));
  Value active = arith::AndIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::slt, row, args.rows),
      arith::CmpIOp::create(b, arith::CmpIPredicate::slt, chunk, constI64(b, width / vec)));
  ifThen(b, active, [&](ImplicitLocOpBuilder &b) {
    // The table row: the token's id, or the row's position.
    Value token = positional ? Value(arith::AddIOp::create(b, args.pos, row))
                             : toI64(b, load(b, i32, elementAddress(b, tokens, i32, row), 4));
    // The reference rejects ids (positions) outside the table; a kernel cannot, so it reads
    // row 0 for them and writes zeros instead of faulting.
    Value valid = arith::AndIOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::sge, token, constI64(b, 0)),
        arith::CmpIOp::create(b, arith::CmpIPredicate::slt, token, constI64(b, vocab)));
    token = arith::SelectOp::create(b, valid, token, constI64(b, 0));
    Value element = arith::MulIOp::create(b, chunk, constI64(b, vec));
    auto mulI = [&](Value v, int64_t c) { return arith::MulIOp::create(b, v, constI64(b, c)); };
    auto addI = [&](Value v, Value w) { return arith::AddIOp::create(b, v, w); };
    auto divI = [&](Value v, int64_t c) { return arith::DivUIOp::create(b, v, constI64(b, c)); };
    auto remI = [&](Value v, int64_t c) { return arith::RemUIOp::create(b, v, constI64(b, c)); };
    auto at = [&](Value byteOffset) { return byteAddress(b, table, byteOffset); };
    auto lanes = [&](Value v, int64_t n) {
      SmallVector<Value> out;
      for (int64_t i = 0; i < n; ++i)
        out.push_back(extractLane(b, v, i));
      return out;
    };
    // The unsigned bit field of a code byte at |shift| (i32).
    auto fieldOf = [&](Value byte, Value shift, int64_t mask) {
      Value wide = arith::ExtUIOp::create(b, i32, byte);
      return arith::AndIOp::create(b, arith::ShRUIOp::create(b, wide, shift), constI32(b, mask));
    };

    SmallVector<Value> values;
    if (dtype == TableType::F32) {
      Value address = at(mulI(addI(mulI(token, width), element), 4));
      values = vec == 1 ? SmallVector<Value>{loadReadOnly(b, f32, address, 4)}
                        : lanes(loadReadOnly(b, VectorType::get({4}, f32), address, 16), 4);
    } else if (dtype == TableType::F16 || dtype == TableType::BF16) {
      Value address = at(mulI(addI(mulI(token, width), element), 2));
      SmallVector<Value> bits =
          vec == 1 ? SmallVector<Value>{loadReadOnly(b, i16, address, 2)}
                   : lanes(loadReadOnly(b, VectorType::get({4}, i16), address, 8), 4);
      for (Value h : bits)
        values.push_back(dtype == TableType::F16 ? halfBitsToF32(b, h) : bf16BitsToF32(b, h));
    } else {
      // Block formats: 4 codes of one 32-weight block and the block's f16 scale d.
      SmallVector<Value> codes; // i32
      Value scaleAddress;
      if (dtype == TableType::Q8_0) {
        Value block = addI(mulI(token, width / 32 * kQ8_0BlockBytes), mulI(divI(element, 32), kQ8_0BlockBytes));
        scaleAddress = at(block);
        Value first = addI(block, addI(constI64(b, 2), remI(element, 32)));
        auto pair = VectorType::get({2}, i8);
        for (int64_t half = 0; half < 2; ++half)
          for (Value c : lanes(loadReadOnly(b, pair, at(addI(first, constI64(b, 2 * half))), 2), 2))
            codes.push_back(arith::ExtSIOp::create(b, i32, c));
      } else {
        scaleAddress = at(addI(constI64(b, scaleOffset),
                               mulI(addI(mulI(token, width / 32), divI(element, 32)), 2)));
        Value rowBase = mulI(token, codeRowBytes);
        auto quad = VectorType::get({4}, i8);
        if (dtype == TableType::Q8B32) {
          for (Value c : lanes(loadReadOnly(b, quad, at(addI(rowBase, element)), 4), 4))
            codes.push_back(arith::ExtSIOp::create(b, i32, c));
        } else {
          // q4/q6 groups of 64 weights: weight j and 32 + j share low-nibble byte j.
          Value within = remI(element, 64);
          Value groupBytes = mulI(divI(element, 64), dtype == TableType::Q4B32 ? 32 : 48);
          Value lowShift = toI32(b, mulI(divI(within, 32), 4));
          Value lowAddress = at(addI(addI(rowBase, groupBytes), remI(within, 32)));
          SmallVector<Value> low = lanes(loadReadOnly(b, quad, lowAddress, 4), 4);
          SmallVector<Value> high;
          Value highShift;
          if (dtype == TableType::Q6B32) {
            // High 2-bit pairs: byte 32 + j holds weights j, 16 + j, 32 + j, 48 + j.
            Value highAddress = at(addI(addI(rowBase, groupBytes), addI(constI64(b, 32), remI(within, 16))));
            high = lanes(loadReadOnly(b, quad, highAddress, 4), 4);
            highShift = toI32(b, mulI(divI(within, 16), 2));
          }
          for (int64_t i = 0; i < 4; ++i) {
            Value u = fieldOf(low[i], lowShift, 0xf);
            if (dtype == TableType::Q6B32)
              u = arith::OrIOp::create(
                  b, u, arith::ShLIOp::create(b, fieldOf(high[i], highShift, 0x3), constI32(b, 4)));
            codes.push_back(arith::SubIOp::create(
                b, u, constI32(b, dtype == TableType::Q4B32 ? 8 : 32)));
          }
        }
      }
      Value d = halfBitsToF32(b, loadReadOnly(b, i16, scaleAddress, 2));
      for (Value c : codes)
        values.push_back(arith::MulFOp::create(b, d, arith::SIToFPOp::create(b, f32, c)));
    }
    for (Value &v : values)
      v = arith::SelectOp::create(b, valid, v, constF32(b, 0.0));

    Value outAddress = elementAddress(b, out, f32, addI(mulI(row, width), element));
    if (vec == 1) {
      store(b, values[0], outAddress, 4);
      return;
    }
    // out is a whole activation slot in practice; the check keeps a misaligned view correct.
    ifThenElse(
        b, pointersAligned(b, {out}, 16), TypeRange{},
        [&](ImplicitLocOpBuilder &b) {
          store(b, buildVector(b, values), outAddress, 16);
          return SmallVector<Value>{};
        },
        [&](ImplicitLocOpBuilder &b) {
          for (int64_t i = 0; i < 4; ++i)
            store(b, values[i], elementAddress(b, outAddress, f32, constI64(b, i)), 4);
          return SmallVector<Value>{};
        });
  });
  return success();
}

} // namespace tern::gpu
