//===- TernOps.h - operations of the tern dialect -------------------------===//
//
// Building ops (MLIR 22 prefers `FooOp::create(b, loc, ...)`; `b.create<FooOp>(loc, ...)`
// takes the same arguments but is deprecated). All in namespace mlir::tern:
//   WeightOp::create(b, loc, Type resultType, StringRef name, StringRef dtype,
//                    int64_t offset, int64_t size)
//     then, as needed: op.setFileAttr(b.getStringAttr(..)), op.setScaleNameAttr(..),
//     op.setTernarize(true)  (or op->setAttr("file", ...) etc.).
//   TernaryMatmulOp::create(b, loc, resultType, q, s, w, /*divide_by_scale=*/false)
//     (the flag may be omitted: the weight scale multiplies; n_block is set by tern-tile).
//   MatmulOp::create(b, loc, resultType, x, w)
//   LogitsOp::create(b, loc, resultType, x, lmHead)             (float or ternary lm_head)
//   LogitsOp::create(b, loc, resultType, q, lmHead, inputScale) (!tern.quantized lm_head)
//   ConcatWeightsOp::create(b, loc, resultType, ValueRange weights)
//   SliceColumnsOp::create(b, loc, resultType, input, b.getI64IntegerAttr(offset))
//   GluOp::create(b, loc, resultType, gate, up, b.getStringAttr("relu2"))
//   RmsNormQuantizeOp::create(b, loc, qType, scaleType, /*sum=*/Type(), x, w,
//                             /*residual=*/Value(), /*up=*/Value(), epsilonAttr,
//                             /*activation=*/StringAttr())
//   RmsNormOp::create(b, loc, resultType, /*sum=*/Type(), x, w, /*residual=*/Value(),
//                     /*up=*/Value(), epsilonAttr, /*activation=*/StringAttr())
//                     (with a residual: the sum's type, x's, and the residual; gated
//                     (tern-fuse-glu-norm): x is the gate, up and activation given)
//   RopeOp::create(b, loc, resultType, x, pos, RopeStyle, FloatAttr theta,
//                  IntegerAttr headDim, IntegerAttr numHeads, FloatAttr freqScale)
//   RopeOp::create(b, loc, x, pos, RopeStyle, double theta, int64_t headDim,
//                  int64_t numHeads, double freqScale = 1.0)
//   Ops whose result type equals an operand's (RopeOp, KVCacheWriteOp,
//   AttentionOp, Relu2Op, SiluOp, GeluOp, MulOp, AddOp) also build without a result type.
//
//===----------------------------------------------------------------------===//
#ifndef TERN_DIALECT_TERNOPS_H
#define TERN_DIALECT_TERNOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "tern/Dialect/TernDialect.h"

#define GET_OP_CLASSES
#include "tern/Dialect/TernOps.h.inc"

#endif // TERN_DIALECT_TERNOPS_H
