//===- tern-opt.cpp - mlir-opt with the tern dialect registered -----------===//
#include "compiler/program/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "tern/Dialect/TernDialect.h"
#include "tern/Transforms/Passes.h"

int main(int argc, char **argv) {
  // Generic passes (canonicalize, cse, ...) are useful on tern IR too.
  mlir::registerTransformsPasses();
  mlir::tern::registerTernTransformsPasses();
  tern::program::registerProgramPasses();
  mlir::DialectRegistry registry;
  registry.insert<mlir::arith::ArithDialect, mlir::func::FuncDialect,
                  mlir::tensor::TensorDialect>();
  mlir::tern::registerTernDialect(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "tern optimizer driver\n", registry));
}
