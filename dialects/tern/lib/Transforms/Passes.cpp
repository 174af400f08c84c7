//===- Passes.cpp - registration of the graph passes and their pipeline ---===//
#include "tern/Transforms/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::tern;

bool mlir::tern::isKnownCPUTarget(StringRef target) {
  return target == "x86-64-v4" || target == "x86-64-v3" || target == "generic" ||
         target == "native";
}

bool mlir::tern::isKnownGPUTarget(StringRef target) {
  return target == "sm_80" || target == "sm_90" || target == "sm_90a";
}

bool mlir::tern::isKnownLmHeadFormat(StringRef format) {
  return format == "source" || format == "f16" || format == "q8" || format == "q6" ||
         format == "q4";
}

void mlir::tern::buildTernGraphPipeline(OpPassManager &pm,
                                        const GraphPipelineOptions &options) {
  // Canonicalization drops unused weights and folds what the importer left behind.
  pm.addPass(createCanonicalizerPass());
  // The lm_head's precision first: q8/q6/q4 add a quantize_act of the final norm's output,
  // which tern-fuse-norm-quant then folds into the norm.
  QuantizeLmHeadPassOptions lmHead;
  lmHead.format = options.lmHead;
  lmHead.shareEmbedding = options.shareEmbedding;
  pm.addNestedPass<func::FuncOp>(createQuantizeLmHeadPass(lmHead));
  // Norm + quantization fuse first: they need the quantize_act ops that fuse-qkv would
  // otherwise merge anyway, and fusing them leaves the matmul inputs unchanged.
  pm.addNestedPass<func::FuncOp>(createFuseNormQuantPass());
  // The residual adds then fold into the norms (plain or quantizing) that read their sums.
  pm.addNestedPass<func::FuncOp>(createFuseResidualNormPass());
  pm.addNestedPass<func::FuncOp>(createFuseQKVPass());
  pm.addNestedPass<func::FuncOp>(createFuseGateUpPass());
  // The relu2 glu of gate and up then folds into the FFN sub-norm that reads it.
  pm.addNestedPass<func::FuncOp>(createFuseGluNormPass());
  // q and k of the fused QKV output rotate in one rope.
  pm.addNestedPass<func::FuncOp>(createFuseRopePass());
  // Packing after fusion so concatenations are repacked together with their parts.
  SelectPackingPassOptions packing;
  packing.target = options.target;
  packing.layout = options.ternaryLayout;
  pm.addNestedPass<func::FuncOp>(createSelectPackingPass(packing));
  TilePassOptions tile;
  tile.target = options.target;
  tile.threads = options.threads;
  pm.addNestedPass<func::FuncOp>(createTilePass(tile));
  pm.addPass(createCanonicalizerPass());
}

void mlir::tern::registerTernTransformsPasses() {
  registerTernPasses();
  PassPipelineRegistration<GraphPipelineOptions>(
      "tern-graph-pipeline",
      "tern graph passes: lm_head precision; fuse norm+quant, residual add+norm, q/k/v, "
      "gate/up, glu+norm, rope of q and k; select packing; tile",
      buildTernGraphPipeline);
}
