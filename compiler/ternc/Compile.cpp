// The compile command: each emit kind stops the same pipeline at a different point.
#include "compiler/ternc/Compile.h"
#include "compiler/tokenizer/ModelTokenizer.h"

#include "codegen/CPU/CPUCodegen.h"
#include "codegen/GPU/GPUCodegen.h"
#include "compiler/artifact/ArtifactWriter.h"
#include "compiler/program/Passes.h"
#include "compiler/program/ProgramBuilder.h"
#include "frontends/common/ModelFormats.h"
#include "frontends/import/ImportModel.h"
#include "tern/Transforms/Passes.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace mlir;

namespace tern {
namespace {

int reportError(llvm::Error error) {
  llvm::WithColor::error(llvm::errs(), "ternc") << llvm::toString(std::move(error)) << "\n";
  return 1;
}

// Progress lines only where a person watches (stderr is a terminal).
void progress(llvm::StringRef step) {
  if (llvm::errs().is_displayed())
    llvm::errs() << "ternc: " << step << "\n";
}

// Keeps the module as it was after the pass named |pass| (its last run).
class StopAfterInstrumentation : public PassInstrumentation {
public:
  StopAfterInstrumentation(std::string pass, OpPrintingFlags flags, std::string &ir, bool &seen)
      : pass(std::move(pass)), flags(flags), ir(ir), seen(seen) {}
  void runAfterPass(Pass *p, Operation *op) override {
    if (p->getArgument() != pass)
      return;
    Operation *module = isa<ModuleOp>(op) ? op : op->getParentOfType<ModuleOp>().getOperation();
    ir.clear();
    llvm::raw_string_ostream os(ir);
    module->print(os, flags);
    os << "\n";
    seen = true;
  }

private:
  std::string pass;
  OpPrintingFlags flags;
  std::string &ir;
  bool &seen;
};

// The target a compile is for: a CPU, or a GPU of the PTX backend.
struct CompileTarget {
  cpu::CpuTarget cpu;
  std::optional<gpu::GpuTarget> gpu;
  const std::string &name() const { return gpu ? gpu->name : cpu.name; }
};

llvm::Expected<CompileTarget> resolveTarget(llvm::StringRef name) {
  CompileTarget target;
  if (gpu::isGpuTargetName(name)) {
    auto resolved = gpu::resolveGpuTarget(name);
    if (!resolved)
      return resolved.takeError();
    target.gpu = *resolved;
    return target;
  }
  auto resolved = cpu::resolveCpuTarget(name);
  if (!resolved)
    return resolved.takeError();
  target.cpu = *resolved;
  return target;
}

void buildGraphPipeline(OpPassManager &pm, const CompileTarget &target,
                        const CompileOptions &options) {
  mlir::tern::GraphPipelineOptions graph;
  graph.target = target.name();
  graph.lmHead = options.lmHead;
  graph.shareEmbedding = options.tiedEmbedding == "shared";
  graph.ternaryLayout = options.ternaryPacking == "tl2" ? "tl2_t64" : "i2_b128";
  mlir::tern::buildTernGraphPipeline(pm, graph);
}

void buildCompilePipeline(OpPassManager &pm, const CompileTarget &target,
                          const CompileOptions &options) {
  buildGraphPipeline(pm, target, options);
  pm.addPass(program::createOutlineKernelsPass());
  if (target.gpu)
    pm.addPass(program::createFuseGpuDispatchesPass());
  program::PlanMemoryPassOptions plan;
  plan.maxRows = options.maxBatchRows;
  pm.addPass(program::createPlanMemoryPass(plan));
}

llvm::Error writeText(llvm::StringRef path, llvm::StringRef text) {
  return llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
    os << text;
    return llvm::Error::success();
  });
}

// --emit=ptx: one <symbol>.ptx per kernel in |directory| (created if missing), each compiled
// on its own so that it reads (and assembles) alone.
int writePtxDirectory(llvm::ArrayRef<KernelSpec> kernels, const gpu::GpuTarget &target,
                      const std::string &directory) {
  if (directory == "-")
    return reportError(llvm::createStringError("--emit=ptx writes files: give a directory with -o"));
  if (std::error_code ec = llvm::sys::fs::create_directories(directory))
    return reportError(llvm::createStringError("cannot create the directory '%s': %s",
                                               directory.c_str(), ec.message().c_str()));
  for (const KernelSpec &spec : kernels) {
    auto ptx = gpu::emitGpuKernels({spec}, target, "ptx");
    if (!ptx)
      return reportError(ptx.takeError());
    if (llvm::Error error = writeText(directory + "/" + spec.symbol + ".ptx", *ptx))
      return reportError(std::move(error));
  }
  return 0;
}

} // namespace

int runCompile(const CompileOptions &requested) {
  CompileOptions options = requested; // with --amx, --lut-prefill and --ternary-packing=auto
                                       // resolved below
  if (options.contextLength < 0)
    return reportError(llvm::createStringError("--context must be positive, got %lld",
                                               static_cast<long long>(options.contextLength)));
  if (options.maxBatchRows < 1)
    return reportError(llvm::createStringError("--max-batch-rows must be at least 1, got %lld",
                                               static_cast<long long>(options.maxBatchRows)));
  if (!options.stopAfter.empty() && options.emit != EmitKind::MLIR)
    return reportError(llvm::createStringError("--stop-after prints IR: use it with --emit=mlir"));
  if (!mlir::tern::isKnownLmHeadFormat(options.lmHead))
    return reportError(llvm::createStringError(
        "--lm-head=%s is not a known lm_head precision; expected one of: %s",
        options.lmHead.c_str(), mlir::tern::kLmHeadFormats.data()));
  if (options.tiedEmbedding != "separate" && options.tiedEmbedding != "shared")
    return reportError(llvm::createStringError(
        "--tied-embedding=%s is not known; expected one of: separate, shared",
        options.tiedEmbedding.c_str()));
  if (options.emit == EmitKind::Artifact && options.output == "-")
    return reportError(
        llvm::createStringError("--emit=artifact writes a file: give its path with -o"));

  if (options.ternaryPacking != "auto" && options.ternaryPacking != "i2" &&
      options.ternaryPacking != "tl2")
    return reportError(llvm::createStringError(
        "--ternary-packing=%s is not known; expected one of: auto, i2, tl2",
        options.ternaryPacking.c_str()));

  if (options.amx != "auto" && options.amx != "on" && options.amx != "off")
    return reportError(llvm::createStringError(
        "--amx=%s is not known; expected one of: auto, on, off", options.amx.c_str()));
  if (options.lutPrefill != "auto" && options.lutPrefill != "on" && options.lutPrefill != "off")
    return reportError(llvm::createStringError(
        "--lut-prefill=%s is not known; expected one of: auto, on, off",
        options.lutPrefill.c_str()));

  llvm::Expected<CompileTarget> target = resolveTarget(options.target);
  if (!target)
    return reportError(target.takeError());
  if (options.amx == "auto")
    options.amx = cpu::defaultAmx(options.target, target->cpu, target->gpu.has_value(),
                                  cpu::hostHasAMX())
                      ? "on"
                      : "off";
  if (options.amx == "on")
    if (llvm::Error error =
            cpu::enableAmxKernels(target->cpu, options.target, target->gpu.has_value()))
      return reportError(std::move(error));
  if (options.lutPrefill == "auto")
    options.lutPrefill = cpu::defaultLutPrefill(options.target, target->cpu,
                                                target->gpu.has_value(), cpu::hostCpuName())
                             ? "on"
                             : "off";
  if (options.lutPrefill == "on")
    if (llvm::Error error =
            cpu::enableLutPrefill(target->cpu, options.target, target->gpu.has_value()))
      return reportError(std::move(error));
  if (options.ternaryPacking == "auto")
    options.ternaryPacking = cpu::defaultTernaryPacking(options.target, target->cpu,
                                                        target->gpu.has_value(),
                                                        cpu::hostHasVBMI())
                                 .str();
  if (options.ternaryPacking == "tl2")
    if (llvm::Error error = cpu::enableLookupTableKernels(target->cpu, options.target,
                                                         target->gpu.has_value()))
      return reportError(std::move(error));
  if (options.emit == EmitKind::Ptx && !target->gpu)
    return reportError(llvm::createStringError(
        "--emit=ptx needs a GPU target (--target=sm_80, sm_90 or sm_90a), not '%s'",
        options.target.c_str()));
  if (options.gpuFuseDecodeAttention && !target->gpu)
    return reportError(llvm::createStringError(
        "--gpu-fuse-decode-attention needs a GPU target (--target=sm_80, sm_90 or sm_90a), "
        "not '%s'",
        options.target.c_str()));
  if (target->gpu && options.emit == EmitKind::Asm)
    return reportError(llvm::createStringError(
        "--emit=asm prints CPU assembly; for --target=%s use --emit=ptx -o DIR",
        options.target.c_str()));

  progress("reading " + options.input);
  llvm::Expected<fe::ModelDescription> model = fe::describeModel(options.input);
  if (!model)
    return reportError(model.takeError());
  if (options.noTokenizer) {
    model->tokenizer = fe::TokenizerInfo();
  } else if (options.emit == EmitKind::Artifact && !model->tokenizer.model.empty() &&
             !model->tokenizer.tokens.empty()) {
    // The runtime builds its tokenizer from what the artifact carries by the same rules: an
    // artifact it could not open must not be written.
    if (llvm::Expected<std::unique_ptr<Tokenizer>> tokenizer = tokenizerForModel(*model);
        !tokenizer)
      return reportError(llvm::createStringError(
          "%s; the runtime could not tokenize text with it (--no-tokenizer compiles the model "
          "without one, for token ids only)",
          llvm::toString(tokenizer.takeError()).c_str()));
  }

  MLIRContext context;
  context.disableMultithreading(); // one @forward: threads would only reorder diagnostics
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  ImportOptions importOptions;
  importOptions.contextLength = options.contextLength;
  progress("importing");
  auto module = importModel(*model, context, importOptions);
  if (failed(module))
    return 1;

  OpPrintingFlags flags;
  if (!options.printVocabulary)
    flags.elideLargeElementsAttrs(16);

  if (options.emit == EmitKind::MLIR && options.stopAfter.empty()) {
    std::string ir;
    llvm::raw_string_ostream os(ir);
    (*module)->print(os, flags);
    os << "\n";
    if (llvm::Error error = writeText(options.output, ir))
      return reportError(std::move(error));
    return 0;
  }

  if (options.emit == EmitKind::MLIR) {
    PassManager pm(&context, ModuleOp::getOperationName());
    buildCompilePipeline(pm, *target, options);
    std::string ir;
    bool seen = false;
    pm.addInstrumentation(
        std::make_unique<StopAfterInstrumentation>(options.stopAfter, flags, ir, seen));
    progress("running the pipeline up to " + options.stopAfter);
    bool ok = succeeded(pm.run(**module));
    if (!seen) {
      if (!ok)
        return 1;
      std::string names;
      llvm::raw_string_ostream os(names);
      pm.printAsTextualPipeline(os);
      return reportError(llvm::createStringError(
          "--stop-after=" + options.stopAfter + " names no pass of the pipeline " + names));
    }
    if (llvm::Error error = writeText(options.output, ir))
      return reportError(std::move(error));
    return 0;
  }

  // Everything else needs the optimized graph.
  {
    PassManager pm(&context, ModuleOp::getOperationName());
    buildGraphPipeline(pm, *target, options);
    progress("optimizing the graph for " + target->name());
    if (failed(pm.run(**module)))
      return 1;
  }

  if (options.emit != EmitKind::Artifact) {
    auto kernels =
        program::outlineKernels(**module, target->gpu.has_value(), options.gpuFuseDecodeAttention);
    if (!kernels)
      return reportError(kernels.takeError());
    progress("generating kernels");
    if (options.emit == EmitKind::Ptx)
      return writePtxDirectory(*kernels, *target->gpu, options.output);
    llvm::StringRef stage = options.emit == EmitKind::KernelsMLIR ? "mlir"
                            : options.emit == EmitKind::LLVM      ? "llvm"
                                                                  : "asm";
    auto text = target->gpu ? gpu::emitGpuKernels(*kernels, *target->gpu, stage)
                            : cpu::emitKernels(*kernels, target->cpu, stage);
    if (!text)
      return reportError(text.takeError());
    if (llvm::Error error = writeText(options.output, *text))
      return reportError(std::move(error));
    return 0;
  }

  program::ProgramOptions programOptions;
  programOptions.target = target->cpu;
  programOptions.gpuTarget = target->gpu;
  programOptions.maxBatchRows = options.maxBatchRows;
  programOptions.fuseDecodeAttention = options.gpuFuseDecodeAttention;
  programOptions.progress = progress;
  auto built = program::buildProgram(**module, *model, programOptions);
  if (!built)
    return reportError(built.takeError());
  progress("writing " + options.output);
  if (llvm::Error error = writeArtifact(options.output, (*built)->contents))
    return reportError(std::move(error));
  return 0;
}

} // namespace tern
