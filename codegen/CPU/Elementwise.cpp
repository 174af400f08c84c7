// add, mul, bias_add, relu, relu2, silu, gelu and glu: row-wise elementwise kernels on f32
// vectors.
//
// Every family walks `rows` rows of a static width in vectors of the target's width and one
// shorter tail vector. Activations avoid libm: exp is the polynomial of VectorMath.h. gelu
// uses 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)), which keeps its precision where tanh(u) is
// close to -1.
#include "codegen/CPU/KernelBuilder.h"
#include "codegen/CPU/KernelGenerators.h"
#include "codegen/CPU/VectorMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <cmath>
#include <optional>

namespace tern::cpu {

using namespace mlir;

namespace {

enum class Activation { Relu, Relu2, Silu, Gelu };

std::optional<Activation> parseActivation(llvm::StringRef name) {
  if (name == "relu")
    return Activation::Relu;
  if (name == "relu2")
    return Activation::Relu2;
  if (name == "silu")
    return Activation::Silu;
  if (name == "gelu")
    return Activation::Gelu;
  return std::nullopt;
}

// x * sigmoid(z) = x / (1 + exp(-z)). For z very negative exp overflows to +inf and the
// quotient is a correctly signed zero, the limit.
Value timesSigmoid(ImplicitLocOpBuilder &b, Value x, Value z, bool fma) {
  Type type = x.getType();
  Value e = expF32(b, arith::NegFOp::create(b, z), fma);
  return arith::DivFOp::create(b, x, arith::AddFOp::create(b, constFloat(b, type, 1.0), e));
}

Value applyActivation(ImplicitLocOpBuilder &b, Activation activation, Value x, bool fma) {
  Type type = x.getType();
  switch (activation) {
  case Activation::Relu: {
    // x > 0 ? x : +0, the reference's definition: -0 and NaN give +0 on every target, where
    // maxnum may return either zero.
    Value zero = constFloat(b, type, 0.0);
    return arith::SelectOp::create(
        b, arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, x, zero), x, zero);
  }
  case Activation::Relu2: {
    Value r = arith::MaxNumFOp::create(b, x, constFloat(b, type, 0.0));
    return arith::MulFOp::create(b, r, r);
  }
  case Activation::Silu:
    return timesSigmoid(b, x, x, fma);
  case Activation::Gelu: {
    // 2u = 2 sqrt(2/pi) (x + 0.044715 x^3) = x (2c + 2c 0.044715 x^2)
    const double c = std::sqrt(2.0 / M_PI);
    Value x2 = arith::MulFOp::create(b, x, x);
    Value inner = arith::AddFOp::create(
        b, constFloat(b, type, 2.0 * c),
        arith::MulFOp::create(b, constFloat(b, type, 2.0 * c * 0.044715), x2));
    return timesSigmoid(b, x, arith::MulFOp::create(b, x, inner), fma);
  }
  }
  llvm_unreachable("unknown activation");
}

// Walks every row's [0, width) in vector chunks; |body| gets the row and the chunk's offset.
void forEachChunk(ImplicitLocOpBuilder &b, const KernelArgs &args, int64_t width, int64_t lanes,
                  const std::function<void(ImplicitLocOpBuilder &, Value row, Value offset,
                                           int64_t lanes)> &body) {
  forLoop(b, constIndex(b, 0), args.rows, constIndex(b, 1),
          [&](ImplicitLocOpBuilder &rb, Value t) {
            forChunks(rb, width, lanes, ValueRange{},
                      [&](ImplicitLocOpBuilder &cb, Value offset, int64_t n, ValueRange) {
                        body(cb, t, offset, n);
                        return SmallVector<Value>{};
                      });
          });
}

} // namespace

LogicalResult generateElementwise(func::FuncOp fn, const KernelSpec &spec,
                                  const CpuTarget &target) {
  const std::string &family = spec.family;
  const int64_t width = spec.getInt("width");
  if (width <= 0)
    return kernelError(fn, spec, "parameter 'width' must be positive, got " +
                                     llvm::Twine(width));
  const bool binary = family == "add" || family == "mul";
  const bool glu = family == "glu";
  const bool biasAdd = family == "bias_add";
  std::optional<Activation> activation;
  if (glu) {
    std::string name = spec.getString("activation");
    activation = parseActivation(name);
    // glu's gate activations; plain relu is not one of them (no model gates with it).
    if (!activation || *activation == Activation::Relu)
      return kernelError(fn, spec, "parameter 'activation' is '" + name +
                                       "'; known: silu, relu2, gelu");
  } else if (!binary && !biasAdd) {
    activation = parseActivation(family);
    if (!activation)
      return kernelError(fn, spec, "not an elementwise family (known: add, mul, bias_add, relu, "
                                   "relu2, silu, gelu, glu)");
  }
  // glu reads gate and up, bias_add its input, with a row stride of their own (columns of a
  // fused matmul's output).
  const llvm::StringRef strideName = glu ? "in_stride" : "x_stride";
  const int64_t inStride = glu || biasAdd ? spec.getInt(strideName.str(), width) : width;
  if (inStride < width)
    return kernelError(fn, spec, "parameter '" + strideName + "' (" + llvm::Twine(inStride) +
                                     ") must be at least width (" + llvm::Twine(width) + ")");
  const int64_t lanes = f32Lanes(target);
  const bool fma = hasFMA(target);

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type f32 = b.getF32Type();
  Value total = arith::MulIOp::create(b, args.rows, constIndex(b, width));
  auto rowStart = [](ImplicitLocOpBuilder &nb, Value t, int64_t stride, Value offset) -> Value {
    return arith::AddIOp::create(nb, arith::MulIOp::create(nb, t, constIndex(nb, stride)),
                                 offset);
  };

  if (binary) {
    Value lhs = bindFlat(b, args, 0, f32, total); // (rows, width)
    Value rhs = bindFlat(b, args, 1, f32, total); // (rows, width)
    Value out = bindFlat(b, args, 2, f32, total); // (rows, width), may alias lhs
    const bool add = family == "add";
    forEachChunk(b, args, width, lanes, [&](ImplicitLocOpBuilder &nb, Value t, Value offset,
                                            int64_t n) {
      Value at = rowStart(nb, t, width, offset);
      Value l = loadVector(nb, lhs, at, n), r = loadVector(nb, rhs, at, n);
      Value v = add ? Value(arith::AddFOp::create(nb, l, r)) : Value(arith::MulFOp::create(nb, l, r));
      storeVector(nb, v, out, at);
    });
    return success();
  }

  // The last row of a strided input may end right after its width, not at a full stride.
  Value inSize = arith::AddIOp::create(
      b, arith::MulIOp::create(b, arith::SubIOp::create(b, args.rows, constIndex(b, 1)),
                               constIndex(b, inStride)),
      constIndex(b, width));

  if (biasAdd) {
    Value x = bindFlat(b, args, 0, f32, inSize);   // (rows, width), row stride x_stride
    Value bias = bindFlat(b, args, 1, f32, width); // (width)
    Value out = bindFlat(b, args, 2, f32, total);  // (rows, width), may alias x (contiguous)
    forEachChunk(b, args, width, lanes, [&](ImplicitLocOpBuilder &nb, Value t, Value offset,
                                            int64_t n) {
      Value v = arith::AddFOp::create(nb, loadVector(nb, x, rowStart(nb, t, inStride, offset), n),
                                      loadVector(nb, bias, offset, n));
      storeVector(nb, v, out, rowStart(nb, t, width, offset));
    });
    return success();
  }

  if (glu) {
    Value gate = bindFlat(b, args, 0, f32, inSize); // (rows, width), row stride in_stride
    Value up = bindFlat(b, args, 1, f32, inSize);   // (rows, width), row stride in_stride
    Value out = bindFlat(b, args, 2, f32, total);   // (rows, width)
    forEachChunk(b, args, width, lanes, [&](ImplicitLocOpBuilder &nb, Value t, Value offset,
                                            int64_t n) {
      Value in = rowStart(nb, t, inStride, offset);
      Value g = applyActivation(nb, *activation, loadVector(nb, gate, in, n), fma);
      Value v = arith::MulFOp::create(nb, g, loadVector(nb, up, in, n));
      storeVector(nb, v, out, rowStart(nb, t, width, offset));
    });
    return success();
  }

  Value x = bindFlat(b, args, 0, f32, total);   // (rows, width)
  Value out = bindFlat(b, args, 1, f32, total); // (rows, width), may alias x
  forEachChunk(b, args, width, lanes,
               [&](ImplicitLocOpBuilder &nb, Value t, Value offset, int64_t n) {
                 Value at = rowStart(nb, t, width, offset);
                 storeVector(nb, applyActivation(nb, *activation, loadVector(nb, x, at, n), fma), out,
                             at);
               });
  return success();
}

} // namespace tern::cpu
