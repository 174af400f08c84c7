// Builds one MLIR module of kernels from KernelSpecs and compiles it into a shared object.
#include "codegen/CPU/CPUCodegen.h"
#include "codegen/Common/CodegenSupport.h"
#include "codegen/CPU/KernelGenerators.h"
#include "codegen/CPU/Lowering.h"

#include "tern/kernel_abi.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/raw_ostream.h"

namespace tern::cpu {

using namespace mlir;

namespace {

using Generator = LogicalResult (*)(func::FuncOp, const KernelSpec &, const CpuTarget &);

Generator generatorFor(llvm::StringRef family) {
  if (family == "ternary_matmul")
    return generateTernaryMatmul;
  if (family == "matmul")
    return generateMatmul;
  if (family == "rms_norm" || family == "rms_norm_quantize" || family == "layer_norm")
    return generateRmsNorm;
  if (family == "quantize_act")
    return generateQuantizeAct;
#ifdef TERN_CPU_HAS_EMBEDDING
  if (family == "embedding" || family == "position_embedding")
    return generateEmbedding;
#endif
#ifdef TERN_CPU_HAS_ROPE
  if (family == "rope")
    return generateRope;
#endif
#ifdef TERN_CPU_HAS_KVCACHEWRITE
  if (family == "kv_cache_write")
    return generateKVCacheWrite;
#endif
#ifdef TERN_CPU_HAS_ATTENTION
  if (family == "attention")
    return generateAttention;
#endif
#ifdef TERN_CPU_HAS_QUANTIZEDMATMUL
  if (family == "quantized_matmul")
    return generateQuantizedMatmul;
#endif
#ifdef TERN_CPU_HAS_ELEMENTWISE
  if (family == "add" || family == "mul" || family == "bias_add" || family == "relu" ||
      family == "relu2" || family == "silu" || family == "gelu" || family == "glu")
    return generateElementwise;
#endif
  return nullptr;
}

// One context with every dialect the generators and the lowering use.
std::unique_ptr<MLIRContext> makeContext() {
  DialectRegistry registry;
  registry.insert<arith::ArithDialect, cf::ControlFlowDialect, func::FuncDialect,
                  LLVM::LLVMDialect, math::MathDialect, memref::MemRefDialect, scf::SCFDialect,
                  ub::UBDialect, vector::VectorDialect, x86vector::X86VectorDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  auto ctx = std::make_unique<MLIRContext>(registry);
  ctx->loadAllAvailableDialects();
  return ctx;
}

using codegen::DiagnosticCollector;

llvm::Expected<OwningOpRef<ModuleOp>> generateModule(MLIRContext &ctx,
                                                     llvm::ArrayRef<KernelSpec> kernels,
                                                     const CpuTarget &target,
                                                     DiagnosticCollector &diags) {
  Location loc = UnknownLoc::get(&ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  OpBuilder b(&ctx);
  b.setInsertionPointToEnd(module->getBody());

  auto i32 = b.getI32Type();
  LLVM::GlobalOp::create(b, loc, i32, /*isConstant=*/true, LLVM::Linkage::External,
                         TERN_KERNEL_ABI_VERSION_SYMBOL,
                         b.getI32IntegerAttr(static_cast<int32_t>(TERN_KERNEL_ABI_VERSION)));

  auto ptr = LLVM::LLVMPointerType::get(&ctx);
  auto i64 = b.getI64Type();
  auto abiType = b.getFunctionType({ptr, i64, i64, i64, i64}, {});
  llvm::StringSet<> symbols;
  for (const KernelSpec &spec : kernels) {
    if (spec.symbol.empty() || !symbols.insert(spec.symbol).second)
      return llvm::createStringError("CPU codegen: kernel symbol '%s' of family '%s' is %s",
                                     spec.symbol.c_str(), spec.family.c_str(),
                                     spec.symbol.empty() ? "empty" : "not unique");
    Generator generate = generatorFor(spec.family);
    if (!generate)
      return llvm::createStringError("CPU codegen: no CPU generator for kernel family '%s' "
                                     "(kernel '%s')",
                                     spec.family.c_str(), spec.symbol.c_str());
    b.setInsertionPointToEnd(module->getBody());
    auto fn = func::FuncOp::create(b, NameLoc::get(b.getStringAttr(spec.symbol)), spec.symbol,
                                   abiType);
    fn.addEntryBlock();
    if (failed(generate(fn, spec, target)))
      return diags.error("generating kernel '" + spec.symbol + "' failed");
    Block &last = fn.getBody().back();
    if (last.empty() || !last.back().hasTrait<OpTrait::IsTerminator>()) {
      b.setInsertionPointToEnd(&last);
      func::ReturnOp::create(b, loc);
    }
  }
  if (failed(verify(*module)))
    return diags.error("generated kernels do not verify");
  return module;
}

// Everything up to LLVM IR; |stage| picks where to stop.
llvm::Expected<std::string> compile(llvm::ArrayRef<KernelSpec> kernels, const CpuTarget &target,
                                    llvm::StringRef stage, std::vector<uint8_t> *library) {
  std::unique_ptr<MLIRContext> ctx = makeContext();
  DiagnosticCollector diags(*ctx, "CPU");
  auto module = generateModule(*ctx, kernels, target, diags);
  if (!module)
    return module.takeError();
  if (stage == "mlir") {
    std::string text;
    llvm::raw_string_ostream os(text);
    (*module)->print(os);
    return text;
  }
  if (failed(lowerToLLVMDialect(**module, target)))
    return diags.error("lowering to the LLVM dialect failed");
  auto tm = createTargetMachine(target);
  if (!tm)
    return tm.takeError();
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateAndOptimize(**module, llvmContext, **tm);
  if (!llvmModule)
    return llvmModule.takeError();
  if (stage == "llvm") {
    std::string text;
    llvm::raw_string_ostream os(text);
    (*llvmModule)->print(os, nullptr);
    return text;
  }
  auto code = emitMachineCode(**llvmModule, **tm, /*assembly=*/stage == "asm");
  if (!code)
    return code.takeError();
  if (stage == "asm")
    return std::string(code->begin(), code->end());
  auto bytes = linkSharedObject(*code);
  if (!bytes)
    return bytes.takeError();
  *library = std::move(*bytes);
  return std::string();
}

} // namespace

llvm::Expected<std::vector<uint8_t>> buildKernelLibrary(llvm::ArrayRef<KernelSpec> kernels,
                                                        const CpuTarget &target) {
  std::vector<uint8_t> library;
  auto done = compile(kernels, target, "so", &library);
  if (!done)
    return done.takeError();
  return library;
}

llvm::Expected<std::string> emitKernels(llvm::ArrayRef<KernelSpec> kernels,
                                        const CpuTarget &target, llvm::StringRef stage) {
  if (stage != "mlir" && stage != "llvm" && stage != "asm")
    return llvm::createStringError("CPU codegen: unknown stage '%s'; known: mlir, llvm, asm",
                                   stage.str().c_str());
  return compile(kernels, target, stage, nullptr);
}

} // namespace tern::cpu
