// add, mul, bias_add, relu, relu2, silu, gelu and glu: one thread per element, grid-stride over
// rows * width.
// Memory-bound and tiny next to the matmuls; the grid covers the largest call once.
#include "codegen/GPU/GPUKernelBuilder.h"
#include "codegen/GPU/GPUKernelGenerators.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include <algorithm>
#include <cmath>

namespace tern::gpu {

using namespace mlir;

namespace {

constexpr int64_t kThreads = 256;

// x / (1 + exp(-z)), exp through ex2.approx (relative error ~2^-22). For z very negative the
// exponential overflows to +inf and the quotient is a correctly signed zero, the limit.
Value timesSigmoid(ImplicitLocOpBuilder &b, Value x, Value z) {
  Value scaled = arith::MulFOp::create(b, z, constF32(b, -M_LOG2E));
  Value e = exp2Approx(b, scaled);
  return arith::DivFOp::create(b, x, arith::AddFOp::create(b, constF32(b, 1.0), e));
}

Value activate(ImplicitLocOpBuilder &b, llvm::StringRef activation, Value x) {
  if (activation == "relu") {
    // x > 0 ? x : +0, the reference's definition (max.f32 would keep -0).
    Value zero = constF32(b, 0.0);
    return arith::SelectOp::create(
        b, arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, x, zero), x, zero);
  }
  if (activation == "relu2") {
    Value r = maxF(b, x, constF32(b, 0.0));
    return arith::MulFOp::create(b, r, r);
  }
  if (activation == "silu")
    return timesSigmoid(b, x, x);
  // gelu (tanh form): 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), 2u = x (2c + 2c 0.044715 x^2).
  const double c = std::sqrt(2.0 / M_PI);
  Value x2 = arith::MulFOp::create(b, x, x);
  Value inner = arith::AddFOp::create(b, constF32(b, 2.0 * c),
                                      arith::MulFOp::create(b, constF32(b, 2.0 * c * 0.044715), x2));
  return timesSigmoid(b, x, arith::MulFOp::create(b, x, inner));
}

} // namespace

llvm::Expected<LaunchShape> launchElementwise(const KernelSpec &spec, int64_t maxRows,
                                              const GpuTarget &) {
  const int64_t elements = std::max<int64_t>(1, spec.getInt("width")) * std::max<int64_t>(1, maxRows);
  LaunchShape shape;
  shape.block = {uint32_t(kThreads), 1, 1};
  // Enough blocks to fill the GPU for prefill, one pass over the elements at most.
  shape.grid = {uint32_t(std::min<int64_t>((elements + kThreads - 1) / kThreads, 4096)), 1, 1};
  return shape;
}

LogicalResult generateElementwise(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec, const GpuTarget &) {
  const llvm::StringRef family = spec.family;
  const int64_t width = spec.getInt("width");
  if (width <= 0)
    return gpuKernelError(fn, spec, "parameter 'width' must be positive, got " + llvm::Twine(width));
  const bool glu = family == "glu", biasAdd = family == "bias_add";
  // glu reads gate and up, bias_add its input, with a row stride of their own (columns of a
  // fused matmul's output).
  const std::string strideName = glu ? "in_stride" : "x_stride";
  const int64_t inStride = glu || biasAdd ? spec.getInt(strideName, width) : width;
  if (inStride < width)
    return gpuKernelError(fn, spec, "parameter '" + strideName + "' (" + llvm::Twine(inStride) +
                                        ") must be at least width (" + llvm::Twine(width) + ")");
  const std::string activation = glu ? spec.getString("activation") : spec.family;
  if (glu && activation != "relu2" && activation != "silu" && activation != "gelu")
    return gpuKernelError(fn, spec, "parameter 'activation' is '" + activation +
                                        "'; expected relu2, silu or gelu");

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  Type f32 = b.getF32Type();
  Value total = arith::MulIOp::create(b, args.rows, constI64(b, width));
  Value first = toI64(b, arith::AddIOp::create(
                             b, arith::MulIOp::create(b, blockIdX(b), blockDimX(b)), threadIdX(b)));
  Value step = toI64(b, arith::MulIOp::create(b, gridDimX(b), blockDimX(b)));
  forLoop(b, first, total, step, [&](ImplicitLocOpBuilder &nb, Value i) {
    Value out = elementAddress(nb, args.bindings.back(), f32, i);
    if (family == "add" || family == "mul") {
      Value lhs = load(nb, f32, elementAddress(nb, args.bindings[0], f32, i), 4);
      Value rhs = load(nb, f32, elementAddress(nb, args.bindings[1], f32, i), 4);
      Value v = family == "add" ? Value(arith::AddFOp::create(nb, lhs, rhs))
                                : Value(arith::MulFOp::create(nb, lhs, rhs));
      store(nb, v, out, 4);
      return;
    }
    // Element (t, j) of a strided input lives at t * stride + j.
    Value t = arith::DivUIOp::create(nb, i, constI64(nb, width));
    Value j = arith::RemUIOp::create(nb, i, constI64(nb, width));
    Value at = arith::AddIOp::create(nb, arith::MulIOp::create(nb, t, constI64(nb, inStride)), j);
    if (biasAdd) {
      Value x = load(nb, f32, elementAddress(nb, args.bindings[0], f32, at), 4);
      Value bias = loadReadOnly(nb, f32, elementAddress(nb, args.bindings[1], f32, j), 4);
      store(nb, arith::AddFOp::create(nb, x, bias), out, 4);
      return;
    }
    if (glu) {
      Value gate = load(nb, f32, elementAddress(nb, args.bindings[0], f32, at), 4);
      Value up = load(nb, f32, elementAddress(nb, args.bindings[1], f32, at), 4);
      store(nb, arith::MulFOp::create(nb, activate(nb, activation, gate), up), out, 4);
      return;
    }
    Value x = load(nb, f32, elementAddress(nb, args.bindings[0], f32, i), 4);
    store(nb, activate(nb, activation, x), out, 4);
  });
  return success();
}

} // namespace tern::gpu
