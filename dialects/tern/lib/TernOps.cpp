//===- TernOps.cpp - builders and verifiers of the tern ops ---------------===//
#include "tern/Dialect/TernOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"

#include <string>

using namespace mlir;
using namespace mlir::tern;

//===----------------------------------------------------------------------===//
// Shape helpers. Token counts are usually dynamic, so a check only fails when both
// sides are static and differ.
//===----------------------------------------------------------------------===//

static bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

static std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

static int64_t dim(Value v, unsigned i) {
  if (auto quantized = dyn_cast<QuantizedType>(v.getType()))
    return quantized.getShape()[i];
  if (auto ternary = dyn_cast<TernaryType>(v.getType()))
    return ternary.getShape()[i];
  return cast<RankedTensorType>(v.getType()).getDimSize(i);
}

/// Checks that all of |values| (name, row count) agree on the token count.
static LogicalResult verifyRows(Operation *op,
                                ArrayRef<std::pair<StringRef, int64_t>> values) {
  for (auto [name, rows] : values.drop_front()) {
    if (!compatible(values.front().second, rows))
      return op->emitOpError() << "row counts disagree: " << values.front().first
                               << " has " << dimStr(values.front().second) << " rows, "
                               << name << " has " << dimStr(rows);
  }
  return success();
}

/// Checks that a width |actual| (a dimension of |what|) equals |expected| (|why|).
static LogicalResult verifyWidth(Operation *op, StringRef what, int64_t actual,
                                 StringRef why, int64_t expected) {
  if (compatible(actual, expected))
    return success();
  return op->emitOpError() << what << " is " << dimStr(actual) << " but " << why << " is "
                           << dimStr(expected);
}

static LogicalResult verifyLayer(Operation *op, int64_t layer, KVCacheType cache) {
  if (layer < 0 || layer >= cache.getNumLayers())
    return op->emitOpError() << "layer " << layer << " is out of range for a cache of "
                             << cache.getNumLayers() << " layers";
  return success();
}

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

void WeightOp::build(OpBuilder &builder, OperationState &state, Type type, StringRef name,
                     StringRef dtype, int64_t offset, int64_t size) {
  build(builder, state, type, builder.getStringAttr(name), builder.getStringAttr(dtype),
        builder.getI64IntegerAttr(offset), builder.getI64IntegerAttr(size),
        /*file=*/StringAttr(), /*scale_name=*/StringAttr(), /*ternarize=*/UnitAttr(),
        /*source_packing=*/PackingKindAttr());
}

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty tensor name");
  if (getDtype().empty())
    return emitOpError("needs a non-empty dtype");
  if (static_cast<int64_t>(getOffset()) < 0)
    return emitOpError() << "offset must be non-negative, got "
                         << static_cast<int64_t>(getOffset());
  if (static_cast<int64_t>(getSize()) <= 0)
    return emitOpError() << "size must be positive, got " << static_cast<int64_t>(getSize());
  if (getFile() && getFile()->empty())
    return emitOpError("has an empty 'file'");
  if (getScaleName() && getScaleName()->empty())
    return emitOpError("has an empty 'scale_name'");
  if (getTernarize() && !isa<TernaryType>(getType()))
    return emitOpError() << "'ternarize' needs a !tern.ternary result, got " << getType();
  if (getSourcePacking() && !isa<TernaryType>(getType()))
    return emitOpError() << "'source_packing' needs a !tern.ternary result, got "
                         << getType();
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp, PositionEmbeddingOp, RmsNormOp, LayerNormOp, QuantizeActOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  if (failed(verifyWidth(*this, "result width", dim(getResult(), 1), "table width",
                         dim(getTable(), 1))))
    return failure();
  return verifyRows(*this, {{"tokens", dim(getTokens(), 0)}, {"result", dim(getResult(), 0)}});
}

LogicalResult PositionEmbeddingOp::verify() {
  if (failed(verifyWidth(*this, "result width", dim(getResult(), 1), "table width",
                         dim(getTable(), 1))))
    return failure();
  return verifyRows(*this, {{"tokens", dim(getTokens(), 0)}, {"result", dim(getResult(), 0)}});
}

/// Checks a norm over the last dimension of |input|: |vectors| (name, value) are as long as
/// that dimension and epsilon is positive.
static LogicalResult verifyNorm(Operation *op, Value input,
                                ArrayRef<std::pair<StringRef, Value>> vectors, APFloat epsilon) {
  auto inputType = cast<RankedTensorType>(input.getType());
  if (inputType.getRank() < 1)
    return op->emitOpError("needs an input of rank >= 1");
  for (auto [name, vector] : vectors)
    if (failed(verifyWidth(op, (name + " length").str(), dim(vector, 0), "input width",
                           inputType.getDimSize(inputType.getRank() - 1))))
      return failure();
  if (!(epsilon.convertToDouble() > 0.0))
    return op->emitOpError() << "epsilon must be positive, got " << epsilon.convertToDouble();
  return success();
}

/// Checks the residual of a fused residual add (tern-fuse-residual-norm): |residual| and
/// |sum| are present together and have the input's type.
static LogicalResult verifyResidual(Operation *op, Value input, Value residual, Value sum) {
  if (bool(residual) != bool(sum))
    return op->emitOpError() << "has " << (residual ? "a residual but no sum result"
                                                    : "a sum result but no residual");
  if (!residual)
    return success();
  if (residual.getType() != input.getType())
    return op->emitOpError() << "residual type " << residual.getType()
                             << " differs from the input type " << input.getType();
  if (sum.getType() != input.getType())
    return op->emitOpError() << "sum type " << sum.getType() << " differs from the input type "
                             << input.getType();
  return success();
}

/// Checks the gated input of a fused glu (tern-fuse-glu-norm): |up| and |activation| are
/// present together, |up| has the input's type, the activation is one the fused kernels
/// compute, and there is no residual (the norm reads either a sum or a gated product).
static LogicalResult verifyGated(Operation *op, Value input, Value residual, Value up,
                                 std::optional<StringRef> activation) {
  if (bool(up) != activation.has_value())
    return op->emitOpError() << (up ? "has an up operand but no activation"
                                    : "has an activation but no up operand");
  if (!up)
    return success();
  if (residual)
    return op->emitOpError("has both a residual and an up operand; a fused norm reads either "
                           "a residual sum or a gated product");
  if (*activation != "relu2")
    return op->emitOpError() << "gated activation '" << *activation
                             << "' is not supported; expected relu2";
  if (up.getType() != input.getType())
    return op->emitOpError() << "up type " << up.getType() << " differs from the input type "
                             << input.getType();
  return success();
}

LogicalResult RmsNormOp::verify() {
  if (failed(verifyResidual(*this, getInput(), getResidual(), getSum())) ||
      failed(verifyGated(*this, getInput(), getResidual(), getUp(), getActivation())))
    return failure();
  return verifyNorm(*this, getInput(), {{"weight", getWeight()}}, getEpsilon());
}

LogicalResult LayerNormOp::verify() {
  SmallVector<std::pair<StringRef, Value>> vectors = {{"weight", getWeight()}};
  if (getBias())
    vectors.push_back({"bias", getBias()});
  return verifyNorm(*this, getInput(), vectors, getEpsilon());
}

LogicalResult QuantizeActOp::verify() {
  if (failed(verifyWidth(*this, "quantized width", dim(getQuantized(), 1), "input width",
                         dim(getInput(), 1))))
    return failure();
  return verifyRows(*this, {{"input", dim(getInput(), 0)},
                            {"quantized", dim(getQuantized(), 0)},
                            {"scale", dim(getScale(), 0)}});
}

LogicalResult RmsNormQuantizeOp::verify() {
  if (failed(verifyResidual(*this, getInput(), getResidual(), getSum())) ||
      failed(verifyGated(*this, getInput(), getResidual(), getUp(), getActivation())) ||
      failed(verifyWidth(*this, "weight length", dim(getWeight(), 0), "input width",
                         dim(getInput(), 1))) ||
      failed(verifyWidth(*this, "quantized width", dim(getQuantized(), 1), "input width",
                         dim(getInput(), 1))))
    return failure();
  if (!(getEpsilon().convertToDouble() > 0.0))
    return emitOpError() << "epsilon must be positive, got " << getEpsilon().convertToDouble();
  return verifyRows(*this, {{"input", dim(getInput(), 0)},
                            {"quantized", dim(getQuantized(), 0)},
                            {"scale", dim(getScale(), 0)}});
}

//===----------------------------------------------------------------------===//
// ConcatWeightsOp, SliceColumnsOp, GluOp, BiasAddOp
//===----------------------------------------------------------------------===//

/// Checks concatenated ternary matrices: shared K, packing and scales; N adds up; the
/// result carries one scale per row.
static LogicalResult verifyTernaryConcat(ConcatWeightsOp op, TernaryType result) {
  auto first = cast<TernaryType>(op.getInputs().front().getType());
  int64_t rows = 0;
  for (auto [i, input] : llvm::enumerate(op.getInputs())) {
    auto type = dyn_cast<TernaryType>(input.getType());
    if (!type)
      return op.emitOpError() << "operand " << i << " is " << input.getType()
                              << " but operand 0 is a !tern.ternary matrix";
    if (type.getK() != first.getK())
      return op.emitOpError() << "operand " << i << " has K = " << type.getK()
                              << " but operand 0 has K = " << first.getK();
    if (type.getPacking() != first.getPacking())
      return op.emitOpError() << "operand " << i << " has packing "
                              << stringifyPackingKind(type.getPacking())
                              << " but operand 0 has "
                              << stringifyPackingKind(first.getPacking());
    if (type.getScale() != first.getScale() || type.getScaleGroup() != first.getScaleGroup())
      return op.emitOpError() << "operand " << i << " has scale kind "
                              << stringifyScaleKind(type.getScale()) << " group "
                              << type.getScaleGroup() << " but operand 0 has "
                              << stringifyScaleKind(first.getScale()) << " group "
                              << first.getScaleGroup();
    rows += type.getN();
  }
  if (result.getN() != rows || result.getK() != first.getK())
    return op.emitOpError() << "result is " << result.getN() << "x" << result.getK()
                            << " but the operands stack to " << rows << "x" << first.getK();
  if (result.getPacking() != first.getPacking())
    return op.emitOpError() << "result packing " << stringifyPackingKind(result.getPacking())
                            << " differs from the operands' "
                            << stringifyPackingKind(first.getPacking());
  if (result.getScale() != ScaleKind::per_row)
    return op.emitOpError() << "result scale kind must be per_row (each operand keeps its "
                               "own scales), got "
                            << stringifyScaleKind(result.getScale());
  return success();
}

/// Checks concatenated float matrices: one element type, shared K, N adds up.
static LogicalResult verifyFloatConcat(ConcatWeightsOp op, RankedTensorType result) {
  auto first = cast<RankedTensorType>(op.getInputs().front().getType());
  int64_t rows = 0;
  for (auto [i, input] : llvm::enumerate(op.getInputs())) {
    auto type = dyn_cast<RankedTensorType>(input.getType());
    if (!type)
      return op.emitOpError() << "operand " << i << " is " << input.getType()
                              << " but operand 0 is a float matrix";
    if (!type.hasStaticShape())
      return op.emitOpError() << "operand " << i << " must have a static shape, got " << type;
    if (type.getElementType() != first.getElementType())
      return op.emitOpError() << "operand " << i << " has element type "
                              << type.getElementType() << " but operand 0 has "
                              << first.getElementType();
    if (type.getDimSize(1) != first.getDimSize(1))
      return op.emitOpError() << "operand " << i << " has K = " << type.getDimSize(1)
                              << " but operand 0 has K = " << first.getDimSize(1);
    rows += type.getDimSize(0);
  }
  if (result.getElementType() != first.getElementType() || result.getDimSize(0) != rows ||
      result.getDimSize(1) != first.getDimSize(1))
    return op.emitOpError() << "result is " << result << " but the operands stack to "
                            << RankedTensorType::get({rows, first.getDimSize(1)},
                                                     first.getElementType());
  return success();
}

LogicalResult ConcatWeightsOp::verify() {
  if (getInputs().size() < 2)
    return emitOpError() << "needs at least two operands, got " << getInputs().size();
  if (isa<TernaryType>(getInputs().front().getType())) {
    auto result = dyn_cast<TernaryType>(getType());
    if (!result)
      return emitOpError() << "stacks !tern.ternary matrices, so the result must be one, got "
                           << getType();
    return verifyTernaryConcat(*this, result);
  }
  auto result = dyn_cast<RankedTensorType>(getType());
  if (!result)
    return emitOpError() << "stacks float matrices, so the result must be one, got "
                         << getType();
  return verifyFloatConcat(*this, result);
}

LogicalResult SliceColumnsOp::verify() {
  int64_t offset = getOffset(), inWidth = dim(getInput(), 1), width = dim(getResult(), 1);
  if (ShapedType::isDynamic(inWidth) || ShapedType::isDynamic(width))
    return emitOpError() << "needs static widths, got " << dimStr(inWidth) << " -> "
                         << dimStr(width);
  if (offset < 0)
    return emitOpError() << "offset must be non-negative, got " << offset;
  if (width <= 0)
    return emitOpError() << "result width must be positive, got " << width;
  if (offset + width > inWidth)
    return emitOpError() << "columns [" << offset << ", " << offset + width
                         << ") are out of range for an input of width " << inWidth;
  return verifyRows(*this, {{"input", dim(getInput(), 0)}, {"result", dim(getResult(), 0)}});
}

LogicalResult GluOp::verify() {
  StringRef activation = getActivation();
  if (activation != "relu2" && activation != "silu" && activation != "gelu")
    return emitOpError() << "activation must be \"relu2\", \"silu\" or \"gelu\", got \""
                         << activation << "\"";
  return success();
}

LogicalResult BiasAddOp::verify() {
  return verifyWidth(*this, "bias length", dim(getBias(), 0), "input width",
                     dim(getInput(), 1));
}

//===----------------------------------------------------------------------===//
// TernaryMatmulOp, MatmulOp, LogitsOp
//===----------------------------------------------------------------------===//

/// Checks a tile width chosen by tern-tile: positive and dividing N.
static LogicalResult verifyNBlock(Operation *op, std::optional<uint64_t> nBlock, int64_t n) {
  if (!nBlock)
    return success();
  auto value = static_cast<int64_t>(*nBlock);
  if (value <= 0)
    return op->emitOpError() << "n_block must be positive, got " << value;
  if (!ShapedType::isDynamic(n) && n % value != 0)
    return op->emitOpError() << "n_block " << value << " does not divide N = " << n;
  return success();
}

void TernaryMatmulOp::build(OpBuilder &builder, OperationState &state, Type result,
                            Value input, Value inputScale, Value weight, bool divideByScale) {
  build(builder, state, result, input, inputScale, weight, divideByScale,
        /*n_block=*/IntegerAttr());
}

void MatmulOp::build(OpBuilder &builder, OperationState &state, Type result, Value input,
                     Value weight) {
  build(builder, state, result, input, weight, /*n_block=*/IntegerAttr());
}

LogicalResult TernaryMatmulOp::verify() {
  auto weight = cast<TernaryType>(getWeight().getType());
  if (failed(verifyWidth(*this, "input width", dim(getInput(), 1), "weight K",
                         weight.getK())) ||
      failed(verifyWidth(*this, "result width", dim(getResult(), 1), "weight N",
                         weight.getN())) ||
      failed(verifyNBlock(*this, getNBlock(), weight.getN())))
    return failure();
  return verifyRows(*this, {{"input", dim(getInput(), 0)},
                            {"input_scale", dim(getInputScale(), 0)},
                            {"result", dim(getResult(), 0)}});
}

LogicalResult MatmulOp::verify() {
  if (failed(verifyWidth(*this, "input width", dim(getInput(), 1), "weight K",
                         dim(getWeight(), 1))) ||
      failed(verifyWidth(*this, "result width", dim(getResult(), 1), "weight N",
                         dim(getWeight(), 0))) ||
      failed(verifyNBlock(*this, getNBlock(), dim(getWeight(), 0))))
    return failure();
  return verifyRows(*this, {{"input", dim(getInput(), 0)}, {"result", dim(getResult(), 0)}});
}

void LogitsOp::build(OpBuilder &builder, OperationState &state, Type result, Value input,
                     Value lmHead) {
  build(builder, state, result, input, lmHead, /*input_scale=*/Value());
}

LogicalResult LogitsOp::verify() {
  const int64_t vocab = dim(getLmHead(), 0), width = dim(getLmHead(), 1);
  // A quantized lm_head multiplies int8 activations with their row scales; the others f32.
  const bool quantized = isa<QuantizedType>(getLmHead().getType());
  const bool int8Input = cast<RankedTensorType>(getInput().getType()).getElementType().isInteger(8);
  if (quantized && (!int8Input || !getInputScale()))
    return emitOpError() << "a " << getLmHead().getType()
                         << " lm_head needs i8 input rows and their 'scale' (tern.quantize_act)";
  if (!quantized && (int8Input || getInputScale()))
    return emitOpError() << "i8 input rows and a 'scale' need a !tern.quantized lm_head, got "
                         << getLmHead().getType();
  if (failed(verifyWidth(*this, "input width", dim(getInput(), 1), "lm_head width", width)) ||
      failed(verifyWidth(*this, "result width", dim(getResult(), 1), "lm_head vocabulary",
                         vocab)))
    return failure();
  if (getInputScale())
    return verifyRows(*this, {{"input", dim(getInput(), 0)},
                              {"scale", dim(getInputScale(), 0)},
                              {"result", dim(getResult(), 0)}});
  return verifyRows(*this, {{"input", dim(getInput(), 0)}, {"result", dim(getResult(), 0)}});
}

//===----------------------------------------------------------------------===//
// RopeOp, KVCacheWriteOp, AttentionOp
//===----------------------------------------------------------------------===//

void RopeOp::build(OpBuilder &builder, OperationState &state, Type result, Value input,
                   Value pos, RopeStyle style, FloatAttr theta, IntegerAttr headDim,
                   IntegerAttr numHeads, FloatAttr freqScale) {
  build(builder, state, result, input, pos, RopeStyleAttr::get(builder.getContext(), style),
        theta, headDim, numHeads, freqScale);
}

void RopeOp::build(OpBuilder &builder, OperationState &state, Value input, Value pos,
                   RopeStyle style, double theta, int64_t headDim, int64_t numHeads,
                   double freqScale) {
  build(builder, state, input.getType(), input, pos, style, builder.getF64FloatAttr(theta),
        builder.getI64IntegerAttr(headDim), builder.getI64IntegerAttr(numHeads),
        builder.getF64FloatAttr(freqScale));
}

// The style prints as a bare keyword (`tern.rope neox %x, ...`); the enum attribute's own
// printer would add the `#tern<rope_style ...>` wrapping or a stray space.
static ParseResult parseRopeStyleKeyword(OpAsmParser &parser, RopeStyleAttr &style) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return failure();
  std::optional<RopeStyle> value = symbolizeRopeStyle(keyword);
  if (!value)
    return parser.emitError(loc) << "expected rope style 'normal' or 'neox', got '" << keyword
                                 << "'";
  style = RopeStyleAttr::get(parser.getContext(), *value);
  return success();
}

static void printRopeStyleKeyword(OpAsmPrinter &printer, Operation *, RopeStyleAttr style) {
  printer << stringifyRopeStyle(style.getValue());
}

LogicalResult RopeOp::verify() {
  int64_t headDim = getHeadDim(), numHeads = getNumHeads();
  if (headDim <= 0 || headDim % 2 != 0)
    return emitOpError() << "head_dim must be positive and even, got " << headDim;
  if (numHeads <= 0)
    return emitOpError() << "num_heads must be positive, got " << numHeads;
  if (!(getTheta().convertToDouble() > 0.0))
    return emitOpError() << "theta must be positive, got " << getTheta().convertToDouble();
  if (!(getFreqScale().convertToDouble() > 0.0))
    return emitOpError() << "freq_scale must be positive, got "
                         << getFreqScale().convertToDouble();
  return verifyWidth(*this, "input width", dim(getInput(), 1), "num_heads * head_dim",
                     numHeads * headDim);
}

LogicalResult KVCacheWriteOp::verify() {
  auto cache = cast<KVCacheType>(getCache().getType());
  if (failed(verifyLayer(*this, getLayer(), cache)) ||
      failed(verifyWidth(*this, "key width", dim(getKey(), 1),
                         "the cache's kv_heads * head_dim", cache.getKVWidth())) ||
      failed(verifyWidth(*this, "value width", dim(getValue(), 1),
                         "the cache's kv_heads * head_dim", cache.getKVWidth())))
    return failure();
  return verifyRows(*this, {{"key", dim(getKey(), 0)}, {"value", dim(getValue(), 0)}});
}

LogicalResult AttentionOp::verify() {
  auto cache = cast<KVCacheType>(getCache().getType());
  int64_t numHeads = getNumHeads(), numKVHeads = getNumKvHeads(), headDim = getHeadDim();
  if (numHeads <= 0 || numKVHeads <= 0 || headDim <= 0)
    return emitOpError() << "num_heads, num_kv_heads and head_dim must be positive, got "
                         << numHeads << ", " << numKVHeads << ", " << headDim;
  if (numHeads % numKVHeads != 0)
    return emitOpError() << "num_heads " << numHeads << " is not a multiple of num_kv_heads "
                         << numKVHeads;
  if (numKVHeads != cache.getNumKVHeads() || headDim != cache.getHeadDim())
    return emitOpError() << "num_kv_heads " << numKVHeads << " and head_dim " << headDim
                         << " do not match the cache's " << cache.getNumKVHeads() << " and "
                         << cache.getHeadDim();
  if (!(getScale().convertToDouble() > 0.0))
    return emitOpError() << "scale must be positive, got " << getScale().convertToDouble();
  if (failed(verifyLayer(*this, getLayer(), cache)))
    return failure();
  return verifyWidth(*this, "query width", dim(getQuery(), 1), "num_heads * head_dim",
                     numHeads * headDim);
}

#define GET_OP_CLASSES
#include "tern/Dialect/TernOps.cpp.inc"
