// Lowers generated kernels to the LLVM dialect, LLVM IR and machine code for a CPU target.
#include "codegen/CPU/Lowering.h"
#include "codegen/Common/CodegenSupport.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

namespace tern::cpu {

using namespace mlir;

LogicalResult lowerToLLVMDialect(ModuleOp module, const CpuTarget &target) {
  MLIRContext *ctx = module.getContext();
  {
    // exp, tanh, erf, ... become polynomials so the library needs no libm.
    RewritePatternSet patterns(ctx);
    populateMathF32ExpansionPatterns(patterns, [](StringRef) { return true; });
    populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
      // sqrt and fma map to instructions; the rest would be libm calls.
      return name != "sqrt" && name != "fma" && name != "absf";
    });
    if (failed(applyPatternsGreedily(module, std::move(patterns))))
      return module.emitError("CPU codegen: math approximation did not converge");
  }

  PassManager pm(ctx);
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createSCFToControlFlowPass());
  ConvertVectorToLLVMPassOptions vectorOptions;
  vectorOptions.reassociateFPReductions = true;
  vectorOptions.x86Vector = target.hasAVX512;
  pm.addPass(createConvertVectorToLLVMPass(vectorOptions));
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
  return pm.run(module);
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>> createTargetMachine(const CpuTarget &target) {
  static const bool initialized = [] {
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMInitializeX86AsmParser(); // inline assembly (the lookup-table kernels' rorx)
    return true;
  }();
  (void)initialized;
  llvm::Triple triple(target.triple);
  std::string error;
  const llvm::Target *llvmTarget = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return llvm::createStringError("CPU codegen: no LLVM target for triple '%s': %s",
                                   target.triple.c_str(), error.c_str());
  std::string features;
  for (const std::string &f : target.features)
    features += (features.empty() ? "+" : ",+") + f;
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> tm(llvmTarget->createTargetMachine(
      triple, target.cpu, features, options, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!tm)
    return llvm::createStringError("CPU codegen: cannot create a target machine for cpu '%s'",
                                   target.cpu.c_str());
  return tm;
}

llvm::Expected<std::unique_ptr<llvm::Module>>
translateAndOptimize(ModuleOp module, llvm::LLVMContext &context, llvm::TargetMachine &tm) {
  std::unique_ptr<llvm::Module> llvmModule = translateModuleToLLVMIR(module, context, "tern_kernels");
  if (!llvmModule)
    return llvm::createStringError("CPU codegen: translation to LLVM IR failed");
  llvmModule->setTargetTriple(tm.getTargetTriple());
  llvmModule->setDataLayout(tm.createDataLayout());
  // The functions carry the target so that inlining and vectorization see the same ISA.
  for (llvm::Function &fn : *llvmModule) {
    if (fn.isDeclaration())
      continue;
    fn.addFnAttr("target-cpu", tm.getTargetCPU());
    fn.addFnAttr("target-features", tm.getTargetFeatureString());
    fn.addFnAttr(llvm::Attribute::NoUnwind);
  }

  codegen::optimizeAtO3(*llvmModule, tm);
  return llvmModule;
}

llvm::Expected<llvm::SmallVector<char, 0>> emitMachineCode(llvm::Module &module,
                                                           llvm::TargetMachine &tm,
                                                           bool assembly) {
  auto code = codegen::emitCode(module, tm,
                                assembly ? llvm::CodeGenFileType::AssemblyFile
                                         : llvm::CodeGenFileType::ObjectFile);
  if (!code)
    return llvm::createStringError("CPU codegen: " + llvm::toString(code.takeError()));
  return code;
}

} // namespace tern::cpu
