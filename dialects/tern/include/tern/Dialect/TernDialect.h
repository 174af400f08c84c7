//===- TernDialect.h - the tern dialect, its types, attributes and enums --===//
#ifndef TERN_DIALECT_TERNDIALECT_H
#define TERN_DIALECT_TERNDIALECT_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

namespace mlir {
class DialectRegistry;
} // namespace mlir

#include "tern/Dialect/TernDialect.h.inc"
#include "tern/Dialect/TernEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "tern/Dialect/TernAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "tern/Dialect/TernTypes.h.inc"

namespace mlir::tern {
/// Adds the tern dialect to |registry| (tools register it with the upstream ones).
void registerTernDialect(DialectRegistry &registry);
} // namespace mlir::tern

#endif // TERN_DIALECT_TERNDIALECT_H
