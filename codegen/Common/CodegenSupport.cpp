// What the CPU and PTX backends share around their generators (see CodegenSupport.h).
#include "codegen/Common/CodegenSupport.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

namespace tern::codegen {

using namespace mlir;

DiagnosticCollector::DiagnosticCollector(MLIRContext &ctx, std::string backend)
    : backend_(std::move(backend)), handler_(&ctx, [this](Diagnostic &diag) {
        if (diag.getSeverity() == DiagnosticSeverity::Error) {
          if (!text_.empty())
            text_ += "\n";
          text_ += diag.str();
        }
        return success();
      }) {}

llvm::Error DiagnosticCollector::error(llvm::StringRef what) const {
  return llvm::createStringError("%s codegen: %s%s%s", backend_.c_str(), what.str().c_str(),
                                 text_.empty() ? "" : ": ", text_.c_str());
}

void optimizeAtO3(llvm::Module &module, llvm::TargetMachine &tm) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(&tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  mpm.run(module, mam);
}

llvm::Expected<llvm::SmallVector<char, 0>> emitCode(llvm::Module &module, llvm::TargetMachine &tm,
                                                    llvm::CodeGenFileType kind) {
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr, kind))
    return llvm::createStringError(
        "the target machine for %s cannot emit %s", tm.getTargetTriple().str().c_str(),
        kind == llvm::CodeGenFileType::AssemblyFile ? "assembly" : "object code");
  pm.run(module);
  return buffer;
}

SmallVector<Value> forLoop(ImplicitLocOpBuilder &b, Value lb, Value ub, Value step,
                           ValueRange init, const LoopBody &body) {
  auto loop = scf::ForOp::create(
      b, lb, ub, step, init, [&](OpBuilder &nested, Location loc, Value iv, ValueRange carried) {
        ImplicitLocOpBuilder nb(loc, nested);
        SmallVector<Value> next = body(nb, iv, carried);
        scf::YieldOp::create(nb, next);
      });
  return SmallVector<Value>(loop.getResults());
}

void forLoop(ImplicitLocOpBuilder &b, Value lb, Value ub, Value step,
             const std::function<void(ImplicitLocOpBuilder &, Value iv)> &body) {
  forLoop(b, lb, ub, step, ValueRange{},
          [&](ImplicitLocOpBuilder &nb, Value iv, ValueRange) -> SmallVector<Value> {
            body(nb, iv);
            return {};
          });
}

llvm::Expected<FusedNormInput> readFusedNormInput(const KernelSpec &spec, int64_t width,
                                                  bool fusable) {
  FusedNormInput input;
  input.inStride = width;
  if (!fusable)
    return input;
  const int64_t residual = spec.getInt("residual", 0), gated = spec.getInt("gated", 0);
  if (residual != 0 && residual != 1)
    return llvm::createStringError("parameter 'residual' must be 0 or 1, got %lld",
                                   static_cast<long long>(residual));
  if (gated != 0 && gated != 1)
    return llvm::createStringError("parameter 'gated' must be 0 or 1, got %lld",
                                   static_cast<long long>(gated));
  if (residual == 1 && gated == 1)
    return llvm::createStringError("a norm has a residual or a gated input, not both");
  input.residual = residual == 1;
  input.gated = gated == 1;
  if (!input.gated)
    return input;
  if (spec.getString("activation") != "relu2")
    return llvm::createStringError("parameter 'activation' is '%s'; a gated norm computes "
                                   "relu2 only",
                                   spec.getString("activation").c_str());
  // Gate and up are read like the glu family reads them: one row stride for both.
  input.inStride = spec.getInt("in_stride", width);
  if (input.inStride < width)
    return llvm::createStringError("parameter 'in_stride' (%lld) must be at least width (%lld)",
                                   static_cast<long long>(input.inStride),
                                   static_cast<long long>(width));
  return input;
}

} // namespace tern::codegen
