//===- TernDialect.cpp - tern dialect registration, types and enum attrs --===//
#include "tern/Dialect/TernDialect.h"
#include "tern/Dialect/TernOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tern;

#include "tern/Dialect/TernDialect.cpp.inc"
#include "tern/Dialect/TernEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "tern/Dialect/TernAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "tern/Dialect/TernTypes.cpp.inc"

void TernDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "tern/Dialect/TernOps.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "tern/Dialect/TernTypes.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "tern/Dialect/TernAttrs.cpp.inc"
      >();
}

void mlir::tern::registerTernDialect(DialectRegistry &registry) {
  registry.insert<TernDialect>();
}

//===----------------------------------------------------------------------===//
// TernaryType
//===----------------------------------------------------------------------===//

// Parses `<NxK, packing, scale [group]>`.
Type TernaryType::parse(AsmParser &parser) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<int64_t> shape;
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false, /*withTrailingX=*/false) ||
      parser.parseComma())
    return {};

  SMLoc packingLoc = parser.getCurrentLocation();
  StringRef packingName;
  if (parser.parseKeyword(&packingName))
    return {};
  std::optional<PackingKind> packing = symbolizePackingKind(packingName);
  if (!packing) {
    parser.emitError(packingLoc) << "unknown ternary packing '" << packingName << "'";
    return {};
  }

  SMLoc scaleLoc;
  StringRef scaleName;
  if (parser.parseComma() || parser.getCurrentLocation(&scaleLoc) ||
      parser.parseKeyword(&scaleName))
    return {};
  std::optional<ScaleKind> scale = symbolizeScaleKind(scaleName);
  if (!scale) {
    parser.emitError(scaleLoc) << "unknown scale kind '" << scaleName << "'";
    return {};
  }

  int64_t group = 0;
  OptionalParseResult hasGroup = parser.parseOptionalInteger(group);
  if ((hasGroup.has_value() && failed(*hasGroup)) || parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(), shape,
                    *packing, *scale, group);
}

void TernaryType::print(AsmPrinter &printer) const {
  printer << '<';
  llvm::interleave(getShape(), printer.getStream(), "x");
  printer << ", " << stringifyPackingKind(getPacking()) << ", "
          << stringifyScaleKind(getScale());
  if (getScaleGroup() != 0)
    printer << ' ' << getScaleGroup();
  printer << '>';
}

LogicalResult TernaryType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  ArrayRef<int64_t> shape, PackingKind packing,
                                  ScaleKind scale, int64_t scaleGroup) {
  if (shape.size() != 2)
    return emitError() << "ternary weight must have rank 2 (N x K), got rank "
                       << shape.size();
  int64_t n = shape[0], k = shape[1];
  if (n <= 0 || k <= 0)
    return emitError() << "ternary weight dimensions must be positive, got " << n << "x"
                       << k;
  // Hugging Face packs four output rows into each byte: uint8 [N/4, K].
  if (packing == PackingKind::hf_packed && n % 4 != 0)
    return emitError() << "hf_packed weight needs N divisible by 4, got N = " << n;
  // The lookup-table layout stores rows in tiles of 64.
  if (packing == PackingKind::tl2_t64 && n % 64 != 0)
    return emitError() << "tl2_t64 weight needs N divisible by 64, got N = " << n;
  switch (scale) {
  case ScaleKind::per_tensor:
    if (scaleGroup != 0)
      return emitError() << "per_tensor scale takes no group size, got " << scaleGroup;
    break;
  case ScaleKind::per_block:
    // Blocks (e.g. 256 weights in TQ1_0/TQ2_0) run along a row, never across rows.
    if (scaleGroup <= 0)
      return emitError() << "per_block scale needs a positive group size, got "
                         << scaleGroup;
    if (k % scaleGroup != 0)
      return emitError() << "per_block group size " << scaleGroup
                         << " does not divide K = " << k;
    break;
  case ScaleKind::per_row:
    if (scaleGroup != 0 && scaleGroup != k)
      return emitError() << "per_row group size must be K = " << k
                         << " (or omitted), got " << scaleGroup;
    break;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// QuantizedType
//===----------------------------------------------------------------------===//

// Parses `<NxK, format>`.
Type QuantizedType::parse(AsmParser &parser) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<int64_t> shape;
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false, /*withTrailingX=*/false) ||
      parser.parseComma())
    return {};
  SMLoc formatLoc = parser.getCurrentLocation();
  StringRef formatName;
  if (parser.parseKeyword(&formatName))
    return {};
  std::optional<QuantFormat> format = symbolizeQuantFormat(formatName);
  if (!format) {
    parser.emitError(formatLoc) << "unknown quantized format '" << formatName
                                << "' (known: q8_b32, q6_b32, q4_b32)";
    return {};
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(), shape, *format);
}

void QuantizedType::print(AsmPrinter &printer) const {
  printer << '<';
  llvm::interleave(getShape(), printer.getStream(), "x");
  printer << ", " << stringifyQuantFormat(getFormat()) << '>';
}

LogicalResult QuantizedType::verify(function_ref<InFlightDiagnostic()> emitError,
                                    ArrayRef<int64_t> shape, QuantFormat format) {
  if (shape.size() != 2)
    return emitError() << "quantized weight must have rank 2 (N x K), got rank "
                       << shape.size();
  int64_t n = shape[0], k = shape[1];
  if (n <= 0 || k <= 0)
    return emitError() << "quantized weight dimensions must be positive, got " << n << "x"
                       << k;
  if (k % kBlock != 0)
    return emitError() << stringifyQuantFormat(format) << " needs K to be a multiple of "
                       << kBlock << ", got K = " << k;
  return success();
}

//===----------------------------------------------------------------------===//
// KVCacheType
//===----------------------------------------------------------------------===//

// Parses `<layers x context x kv_heads x head_dim x element>`.
Type KVCacheType::parse(AsmParser &parser) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<int64_t> dims;
  Type elementType;
  if (parser.parseLess() ||
      parser.parseDimensionList(dims, /*allowDynamic=*/false, /*withTrailingX=*/true))
    return {};
  if (dims.size() != 4) {
    parser.emitError(loc) << "kv_cache needs 4 dimensions (layers x context x kv_heads x "
                             "head_dim), got "
                          << dims.size();
    return {};
  }
  if (parser.parseType(elementType) || parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(), dims[0],
                    dims[1], dims[2], dims[3], elementType);
}

void KVCacheType::print(AsmPrinter &printer) const {
  printer << '<' << getNumLayers() << 'x' << getContextLength() << 'x' << getNumKVHeads()
          << 'x' << getHeadDim() << 'x' << getElementType() << '>';
}

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t numLayers, int64_t contextLength,
                                  int64_t numKVHeads, int64_t headDim, Type elementType) {
  if (numLayers <= 0 || contextLength <= 0 || numKVHeads <= 0 || headDim <= 0)
    return emitError() << "kv_cache dimensions must be positive, got " << numLayers << "x"
                       << contextLength << "x" << numKVHeads << "x" << headDim;
  if (!isa<FloatType>(elementType))
    return emitError() << "kv_cache element type must be a float type, got " << elementType;
  return success();
}
