//===- Passes.h - program-level passes: memory plan and kernel outlining --===//
#ifndef TERN_COMPILER_PROGRAM_PASSES_H
#define TERN_COMPILER_PROGRAM_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace tern::program {

#define GEN_PASS_DECL
#include "compiler/program/Passes.h.inc"

// Registers tern-plan-memory and tern-outline-kernels (tern-opt, ternc --stop-after).
void registerProgramPasses();

#define GEN_PASS_REGISTRATION
#include "compiler/program/Passes.h.inc"

} // namespace tern::program

#endif
