// Builds one gpu.module of kernels from KernelSpecs, lowers it to NVVM and compiles it to PTX.
#include "codegen/Common/CodegenSupport.h"
#include "codegen/GPU/GPUCodegen.h"
#include "codegen/GPU/GPUKernelBuilder.h"
#include "codegen/GPU/GPUKernelGenerators.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Triple.h"

#include <mutex>

namespace tern::gpu {

using namespace mlir;

namespace {

struct Family {
  const char *name;
  int bindings; // without optional ones (bindingsOf)
  GpuGenerator generate;
  GpuLaunchRule launch;
  // Whether the generator reads parameter one_row (the row-dot matmuls: oneRowVariant).
  bool oneRowVariant = false;
};

// Families whose generator file is part of the build (codegen/GPU/CMakeLists.txt).
const Family kFamilies[] = {
#ifdef TERN_GPU_HAS_ELEMENTWISE
    {"add", 3, generateElementwise, launchElementwise},
    {"mul", 3, generateElementwise, launchElementwise},
    {"bias_add", 3, generateElementwise, launchElementwise},
    {"relu", 2, generateElementwise, launchElementwise},
    {"relu2", 2, generateElementwise, launchElementwise},
    {"silu", 2, generateElementwise, launchElementwise},
    {"gelu", 2, generateElementwise, launchElementwise},
    {"glu", 3, generateElementwise, launchElementwise},
#endif
#ifdef TERN_GPU_HAS_RMSNORM
    {"rms_norm", 3, generateRmsNorm, launchRmsNorm},          // + 2 with a residual, 1 gated
    {"rms_norm_quantize", 4, generateRmsNorm, launchRmsNorm}, // + 2 with a residual, 1 gated
    {"layer_norm", 3, generateRmsNorm, launchRmsNorm}, // + 1 with a bias
    {"quantize_act", 3, generateRmsNorm, launchRmsNorm},
#endif
#ifdef TERN_GPU_HAS_EMBEDDING
    {"embedding", 3, generateEmbedding, launchEmbedding},
    {"position_embedding", 2, generateEmbedding, launchEmbedding},
#endif
#ifdef TERN_GPU_HAS_ROPE
    {"rope", 2, generateRope, launchRope},
#endif
#ifdef TERN_GPU_HAS_KVCACHEWRITE
    {"kv_cache_write", 4, generateKVCacheWrite, launchKVCacheWrite},
#endif
#ifdef TERN_GPU_HAS_ROPEKVCACHEWRITE
    {"rope_kv_cache_write", 5, generateRopeKVCacheWrite, launchRopeKVCacheWrite},
#endif
#ifdef TERN_GPU_HAS_ATTENTION
    {"attention", 4, generateAttention, launchAttention},
    {"rope_kv_attention", 6, generateAttention, launchAttention}, // decode only
#endif
#ifdef TERN_GPU_HAS_TERNARYMATMUL
    {"ternary_matmul", 5, generateTernaryMatmul, launchTernaryMatmul, /*oneRowVariant=*/true},
#endif
#ifdef TERN_GPU_HAS_MATMUL
    {"matmul", 3, generateMatmul, launchMatmul, /*oneRowVariant=*/true},
#endif
#ifdef TERN_GPU_HAS_QUANTIZEDMATMUL
    {"quantized_matmul", 4, generateQuantizedMatmul, launchQuantizedMatmul,
     /*oneRowVariant=*/true},
#endif
};

const Family *familyFor(llvm::StringRef name) {
  for (const Family &family : kFamilies)
    if (name == family.name)
      return &family;
  return nullptr;
}

// The bindings of one kernel: its family's, plus layer_norm's bias when it has one, plus the
// residual and the sum of an rms norm with a fused residual add, plus the up of a gated one.
int bindingsOf(const Family &family, const KernelSpec &spec) {
  const llvm::StringRef name = family.name;
  const bool bias = name == "layer_norm" && spec.getInt("bias", 0) == 1;
  const bool rms = name == "rms_norm" || name == "rms_norm_quantize";
  const bool residual = rms && spec.getInt("residual", 0) == 1;
  const bool gated = rms && spec.getInt("gated", 0) == 1; // up, after the gate
  return family.bindings + (bias ? 1 : 0) + (residual ? 2 : 0) + (gated ? 1 : 0);
}

std::string knownFamilies() {
  std::string names;
  for (const Family &family : kFamilies)
    names += (names.empty() ? "" : ", ") + std::string(family.name);
  return names.empty() ? "none" : names;
}

// One context with every dialect the generators and the lowering use.
std::unique_ptr<MLIRContext> makeContext() {
  DialectRegistry registry;
  registry.insert<arith::ArithDialect, cf::ControlFlowDialect, func::FuncDialect,
                  mlir::gpu::GPUDialect, LLVM::LLVMDialect, NVVM::NVVMDialect, math::MathDialect,
                  memref::MemRefDialect, scf::SCFDialect, ub::UBDialect,
                  vector::VectorDialect>();
  // convert-gpu-to-nvvm converts only the dialects whose to-LLVM interface is registered.
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  ub::registerConvertUBToLLVMInterface(registry);
  registerBuiltinDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  auto ctx = std::make_unique<MLIRContext>(registry);
  ctx->loadAllAvailableDialects();
  return ctx;
}

using codegen::DiagnosticCollector;

constexpr llvm::StringLiteral kModuleName = "tern_kernels";

// Programmatic dependent launch (GPUKernelBuilder.h): the wait goes first, so nothing is read
// before it, unless the kernel placed it itself.
void addDependentLaunchPrologue(mlir::gpu::GPUFuncOp fn) {
  if (fn->hasAttr(kOwnDependentWaitAttr))
    return;
  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  b.setInsertionPointToStart(&fn.getBody().front());
  emitDependentLaunchControl(b);
}

llvm::Expected<OwningOpRef<ModuleOp>> generateModule(MLIRContext &ctx,
                                                     llvm::ArrayRef<KernelSpec> kernels,
                                                     const GpuTarget &target,
                                                     DiagnosticCollector &diags) {
  Location loc = UnknownLoc::get(&ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  OpBuilder b(&ctx);
  b.setInsertionPointToEnd(module->getBody());
  (*module)->setAttr(mlir::gpu::GPUDialect::getContainerModuleAttrName(), b.getUnitAttr());
  auto gpuModule = mlir::gpu::GPUModuleOp::create(b, loc, kModuleName);
  auto ptr = LLVM::LLVMPointerType::get(&ctx);
  llvm::StringSet<> symbols;
  for (const KernelSpec &spec : kernels) {
    if (spec.symbol.empty() || !symbols.insert(spec.symbol).second)
      return llvm::createStringError("PTX codegen: kernel symbol '%s' of family '%s' is %s",
                                     spec.symbol.c_str(), spec.family.c_str(),
                                     spec.symbol.empty() ? "empty" : "not unique");
    const Family *family = familyFor(spec.family);
    if (!family)
      return llvm::createStringError(
          "PTX codegen: no GPU generator for kernel family '%s' (kernel '%s'); the PTX backend "
          "generates: %s",
          spec.family.c_str(), spec.symbol.c_str(), knownFamilies().c_str());
    llvm::SmallVector<Type> arguments(size_t(bindingsOf(*family, spec)) + 1, ptr);
    b.setInsertionPointToEnd(gpuModule.getBody());
    auto fn = mlir::gpu::GPUFuncOp::create(b, NameLoc::get(b.getStringAttr(spec.symbol)),
                                           spec.symbol, b.getFunctionType(arguments, {}));
    fn->setAttr(mlir::gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
    if (failed(family->generate(fn, spec, target)))
      return diags.error("generating kernel '" + spec.symbol + "' failed");
    Block &last = fn.getBody().back();
    if (last.empty() || !last.back().hasTrait<OpTrait::IsTerminator>()) {
      b.setInsertionPointToEnd(&last);
      mlir::gpu::ReturnOp::create(b, loc);
    }
    if (target.computeCapability >= 90)
      addDependentLaunchPrologue(fn);
  }
  if (failed(verify(*module)))
    return diags.error("generated kernels do not verify");
  return module;
}

LogicalResult lowerToNVVM(ModuleOp module) {
  PassManager pm(module.getContext());
  OpPassManager &kernels = pm.nest<mlir::gpu::GPUModuleOp>();
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createSCFToControlFlowPass());
  kernels.addPass(createConvertGpuOpsToNVVMOps());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  kernels.addPass(createCanonicalizerPass());
  return pm.run(module);
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>> createTargetMachine(const GpuTarget &target) {
  static std::once_flag initialized;
  std::call_once(initialized, [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
  llvm::Triple triple("nvptx64-nvidia-cuda");
  std::string error;
  const llvm::Target *llvmTarget = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return llvm::createStringError("PTX codegen: LLVM has no NVPTX target: %s", error.c_str());
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> tm(llvmTarget->createTargetMachine(
      triple, target.chip, target.features, options, std::nullopt, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!tm)
    return llvm::createStringError("PTX codegen: cannot create a target machine for %s",
                                   target.chip.c_str());
  return tm;
}

// The gpu.module's LLVM-dialect contents as an optimized LLVM module.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateAndOptimize(ModuleOp module, llvm::LLVMContext &context, llvm::TargetMachine &tm) {
  mlir::gpu::GPUModuleOp gpuModule;
  module.walk([&](mlir::gpu::GPUModuleOp op) { gpuModule = op; });
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(gpuModule, context, kModuleName);
  if (!llvmModule)
    return llvm::createStringError("PTX codegen: translation to LLVM IR failed");
  llvmModule->setTargetTriple(tm.getTargetTriple());
  llvmModule->setDataLayout(tm.createDataLayout());
  for (llvm::Function &fn : *llvmModule) {
    if (fn.isDeclaration() && !fn.isIntrinsic())
      return llvm::createStringError(
          "PTX codegen: the kernels call '%s', which no library provides (use an NVVM or LLVM "
          "intrinsic)",
          fn.getName().str().c_str());
    if (!fn.isDeclaration())
      fn.addFnAttr(llvm::Attribute::NoUnwind);
  }
  codegen::optimizeAtO3(*llvmModule, tm);
  return llvmModule;
}

llvm::Expected<std::string> emitPtx(llvm::Module &module, llvm::TargetMachine &tm) {
  auto buffer = codegen::emitCode(module, tm, llvm::CodeGenFileType::AssemblyFile);
  if (!buffer)
    return llvm::createStringError("PTX codegen: " + llvm::toString(buffer.takeError()));
  return std::string(buffer->begin(), buffer->end());
}

llvm::Expected<std::string> compile(llvm::ArrayRef<KernelSpec> kernels, const GpuTarget &target,
                                    llvm::StringRef stage) {
  std::unique_ptr<MLIRContext> ctx = makeContext();
  DiagnosticCollector diags(*ctx, "PTX");
  auto module = generateModule(*ctx, kernels, target, diags);
  if (!module)
    return module.takeError();
  auto print = [](Operation *op) {
    std::string text;
    llvm::raw_string_ostream os(text);
    op->print(os);
    return text;
  };
  if (stage == "mlir")
    return print(**module);
  if (failed(lowerToNVVM(**module)))
    return diags.error("lowering to NVVM failed");
  if (stage == "nvvm")
    return print(**module);
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
  return emitPtx(**llvmModule, **tm);
}

} // namespace

int bindingCount(llvm::StringRef family) {
  const Family *f = familyFor(family);
  return f ? f->bindings : -1;
}

std::optional<KernelSpec> oneRowVariant(const KernelSpec &spec) {
  const Family *family = familyFor(spec.family);
  if (!family || !family->oneRowVariant)
    return std::nullopt;
  if (spec.getInt("one_row", 0) != 0)
    return std::nullopt; // a variant already
  KernelSpec variant = spec;
  variant.ints["one_row"] = 1;
  variant.symbol = variantSymbol(spec, "_one_row");
  return variant;
}

std::string variantSymbol(const KernelSpec &spec, llvm::StringRef infix) {
  const std::string suffix = "_" + spec.family;
  const llvm::StringRef symbol = spec.symbol;
  return symbol.ends_with(suffix) ? (symbol.drop_back(suffix.size()) + infix + suffix).str()
                                  : (symbol + infix).str();
}

llvm::Expected<LaunchShape> launchShape(const KernelSpec &spec, int64_t maxRows,
                                        const GpuTarget &target) {
  const Family *family = familyFor(spec.family);
  if (!family)
    return llvm::createStringError("PTX codegen: no launch rule for kernel family '%s'",
                                   spec.family.c_str());
  return family->launch(spec, maxRows, target);
}

llvm::Expected<std::string> buildPtxLibrary(llvm::ArrayRef<KernelSpec> kernels,
                                            const GpuTarget &target) {
  return compile(kernels, target, "ptx");
}

llvm::Expected<std::string> emitGpuKernels(llvm::ArrayRef<KernelSpec> kernels,
                                           const GpuTarget &target, llvm::StringRef stage) {
  if (stage != "mlir" && stage != "nvvm" && stage != "llvm" && stage != "ptx")
    return llvm::createStringError("PTX codegen: unknown stage '%s'; known: mlir, nvvm, llvm, ptx",
                                   stage.str().c_str());
  return compile(kernels, target, stage);
}

} // namespace tern::gpu
