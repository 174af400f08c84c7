// The CPU backend's lowering steps: kernel MLIR -> LLVM dialect -> LLVM IR -> machine code -> .so.
#ifndef TERN_CODEGEN_CPU_LOWERING_H
#define TERN_CODEGEN_CPU_LOWERING_H

#include "codegen/CPU/CPUCodegen.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>

namespace tern::cpu {

// Rewrites math ops into polynomials (no libm calls), then lowers scf, vector (with x86vector
// when the target has AVX-512), memref, math, arith, func and cf to the LLVM dialect and
// removes the bindings' unrealized casts.
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module, const CpuTarget &target);

// A position-independent TargetMachine for |target| at -O3.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>> createTargetMachine(const CpuTarget &target);

// Translates a lowered module to LLVM IR for |tm| and optimizes it at -O3.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateAndOptimize(mlir::ModuleOp module, llvm::LLVMContext &context, llvm::TargetMachine &tm);

// Object code (or assembly text with |assembly|) of |module|.
llvm::Expected<llvm::SmallVector<char, 0>> emitMachineCode(llvm::Module &module,
                                                           llvm::TargetMachine &tm,
                                                           bool assembly);

// Links one relocatable object into an ELF shared object with ld.lld and returns its bytes.
llvm::Expected<std::vector<uint8_t>> linkSharedObject(llvm::ArrayRef<char> object);

} // namespace tern::cpu

#endif
