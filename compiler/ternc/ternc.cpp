// The ternc driver: `ternc inspect`, `ternc compile` and `ternc tokenize`.
#include "compiler/ternc/Compile.h"
#include "compiler/ternc/Inspect.h"

#include "frontends/common/ModelFormats.h"
#include "compiler/tokenizer/ModelTokenizer.h"
#ifdef TERN_HAVE_ONNX
#include "frontends/onnx/DescribeONNX.h"
#endif

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

static cl::SubCommand inspectCommand("inspect",
                                     "Describe a model file: format, architecture, "
                                     "hyperparameters, tensors, tokenizer, compatibility");
static cl::SubCommand compileCommand("compile", "Compile a model (GGUF file or Hugging Face "
                                                "SafeTensors directory)");

static cl::SubCommand tokenizeCommand("tokenize",
                                      "Print the token ids of a text (FILE: a .gguf, a "
                                      "tokenizer.json, a SentencePiece tokenizer.model, a "
                                      "Hugging Face model directory or a .tern artifact)");
static cl::opt<std::string> tokenizeInput(cl::Positional, cl::desc("<model or tokenizer file>"),
                                          cl::Required, cl::sub(tokenizeCommand));
static cl::opt<std::string> tokenizeText("text", cl::desc("Text to tokenize"), cl::Required,
                                         cl::sub(tokenizeCommand));
static cl::opt<bool> tokenizeNoSpecial("no-bos",
                                       cl::desc("Do not add the BOS/EOS tokens the model asks for"),
                                       cl::sub(tokenizeCommand));
static cl::opt<bool> tokenizeParseSpecial(
    "parse-special", cl::desc("Match special tokens (e.g. <|eot_id|>) written in the text"),
    cl::sub(tokenizeCommand));
static cl::opt<bool> tokenizePieces("pieces", cl::desc("Print each id with its text piece"),
                                    cl::sub(tokenizeCommand));

static cl::opt<std::string> inspectInput(cl::Positional, cl::desc("<model file or directory>"),
                                         cl::Required, cl::sub(inspectCommand));
static cl::opt<bool> inspectJSON("json", cl::desc("Print the report as JSON"),
                                 cl::sub(inspectCommand));

static cl::opt<std::string> compileInput(cl::Positional, cl::desc("<model file or directory>"),
                                         cl::Required, cl::sub(compileCommand));
static cl::opt<tern::EmitKind> emitKind(
    "emit", cl::desc("What to produce"), cl::init(tern::EmitKind::Artifact),
    cl::values(
        clEnumValN(tern::EmitKind::Artifact, "artifact", "a .tern artifact (default)"),
        clEnumValN(tern::EmitKind::MLIR, "mlir",
                   "tern IR: as imported, or after the --stop-after pass (weights elided)"),
        clEnumValN(tern::EmitKind::KernelsMLIR, "kernels-mlir",
                   "the generated kernels' MLIR before lowering"),
        clEnumValN(tern::EmitKind::LLVM, "llvm", "the generated kernels' LLVM IR"),
        clEnumValN(tern::EmitKind::Asm, "asm", "the generated kernels' assembly"),
        clEnumValN(tern::EmitKind::Ptx, "ptx",
                   "each generated GPU kernel's PTX as <symbol>.ptx in the directory -o names "
                   "(GPU targets)")),
    cl::sub(compileCommand));
static cl::opt<std::string> outputPath("o", cl::desc("Output file ('-' for stdout)"),
                                       cl::value_desc("path"), cl::init("-"),
                                       cl::sub(compileCommand));
static cl::opt<std::string>
    compileTarget("target",
                  cl::desc("CPU or GPU to compile for: native, x86-64-v4, x86-64-v3, generic, "
                           "sm_80, sm_90 or sm_90a"),
                  cl::init("native"), cl::sub(compileCommand));
static cl::opt<int64_t> maxBatchRows(
    "max-batch-rows", cl::desc("Most prompt tokens one prefill call evaluates (default 64)"),
    cl::init(64), cl::sub(compileCommand));
static cl::opt<int64_t> contextLength(
    "context", cl::desc("KV cache length to compile for (default: the model's, at most 4096)"),
    cl::init(0), cl::sub(compileCommand));
static cl::opt<std::string> stopAfter(
    "stop-after",
    cl::desc("With --emit=mlir: print the IR after this pipeline pass (e.g. tern-fuse-qkv, "
             "tern-outline-kernels, tern-plan-memory)"),
    cl::value_desc("pass"), cl::sub(compileCommand));
static cl::opt<bool> printVocabulary(
    "print-vocabulary", cl::desc("Print the full vocabulary in --emit=mlir output (elided by "
                                 "default when larger than 16 entries)"),
    cl::sub(compileCommand));

static cl::opt<bool> noTokenizer(
    "no-tokenizer",
    cl::desc("Leave the model's tokenizer out of the artifact (it then takes token ids only); "
             "for models whose tokenizer this runtime does not support"),
    cl::sub(compileCommand));

static cl::opt<std::string> lmHead(
    "lm-head",
    cl::desc("Precision of the output projection (lm_head, or the tied embedding it shares): "
             "source (the file's type, default), f16, q8 (int8, f16 scale per 32 weights), q6 "
             "(6-bit, f16 scale per 32 weights) or q4 (4-bit, f16 scale per 32 weights)"),
    cl::value_desc("source|f16|q8|q6|q4"), cl::init("source"), cl::sub(compileCommand));

static cl::opt<std::string> ternaryPacking(
    "ternary-packing",
    cl::desc("Layout of the ternary weights: auto (default: tl2 for --target=native on a host "
             "with AVX-512 VBMI, i2 otherwise), i2 (2 bits per weight, every target) or tl2 "
             "(1.67 bits, lookup-table kernels with vpermb: faster decode and prefill, a smaller "
             "file; needs AVX-512 VBMI, so x86-64-v4 or native on such a host; matrices it "
             "cannot hold stay i2; docs/perf/lut.md)"),
    cl::value_desc("auto|i2|tl2"), cl::init("auto"), cl::sub(compileCommand));

static cl::opt<std::string> amx(
    "amx",
    cl::desc("AMX-INT8 tile kernels for the prefill rows of the ternary matmuls: auto "
             "(default: on for --target=native on a host with AMX), on (an AVX-512 target; the "
             "artifact then needs AMX on the host) or off; with AMX, --ternary-packing=auto "
             "picks i2, which those kernels read"),
    cl::value_desc("auto|on|off"), cl::init("auto"), cl::sub(compileCommand));

static cl::opt<std::string> lutPrefill(
    "lut-prefill",
    cl::desc("Lookup-table kernels for the prefill rows of the ternary matmuls on AVX2 targets "
             "without AVX-512: auto (default: on for --target=native on AMD Zen 1-3, whose one "
             "vpmaddubsw pipe they outrun), on (x86-64-v3 or such a native) or off; "
             "docs/codegen.md"),
    cl::value_desc("auto|on|off"), cl::init("auto"), cl::sub(compileCommand));

static cl::opt<bool> gpuFuseDecodeAttention(
    "gpu-fuse-decode-attention",
    cl::desc("GPU targets: run each layer's rope, KV-cache write and attention as one kernel in "
             "decode, a launch fewer per layer (off by default until measured; docs/gpu.md)"),
    cl::sub(compileCommand));

static cl::opt<std::string> tiedEmbedding(
    "tied-embedding",
    cl::desc("When --lm-head changes a tied embedding table: separate (default: the token "
             "lookup keeps the file's table, the artifact holds both) or shared (one table at "
             "the --lm-head precision, smaller file, the lookup decodes it)"),
    cl::value_desc("separate|shared"), cl::init("separate"), cl::sub(compileCommand));

static int reportError(llvm::Error error) {
  llvm::WithColor::error(llvm::errs(), "ternc") << llvm::toString(std::move(error)) << "\n";
  return 1;
}

static int runInspect() {
#ifdef TERN_HAVE_ONNX
  if (llvm::StringRef(inspectInput).ends_with_insensitive(".onnx")) {
    // The graph as ONNX sees it, then the decoder the frontend recognized in it.
    auto summary = tern::onnx::describeONNX(inspectInput);
    if (!summary)
      return reportError(summary.takeError());
    llvm::Expected<tern::fe::ModelDescription> model = tern::fe::describeModel(inspectInput);
    if (!model)
      return reportError(model.takeError());
    if (inspectJSON) {
      llvm::json::Value report = tern::inspectionToJSON(*model);
      report.getAsObject()->insert({"onnx", tern::onnxInspectionToJSON(*summary)});
      llvm::outs() << llvm::formatv("{0:2}", std::move(report)) << "\n";
    } else {
      tern::printONNXInspection(*summary, llvm::outs());
      llvm::outs() << "\nDecoder recognized in the graph\n";
      tern::printInspection(*model, llvm::outs());
    }
    return model->supported() ? 0 : 2;
  }
#endif
  llvm::Expected<tern::fe::ModelDescription> model = tern::fe::describeModel(inspectInput);
  if (!model)
    return reportError(model.takeError());
  if (inspectJSON)
    llvm::outs() << llvm::formatv("{0:2}", tern::inspectionToJSON(*model)) << "\n";
  else
    tern::printInspection(*model, llvm::outs());
  // A report was produced either way; the exit code says whether the model can be compiled.
  return model->supported() ? 0 : 2;
}

static int runTokenize() {
  auto built = tern::tokenizerForFile(tokenizeInput);
  if (!built)
    return reportError(built.takeError());
  std::unique_ptr<tern::Tokenizer> tokenizer = std::move(*built);
  std::vector<int32_t> ids =
      tokenizer->encode(tokenizeText, !tokenizeNoSpecial, tokenizeParseSpecial);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (tokenizePieces)
      llvm::outs() << ids[i] << "\t'" << tokenizer->tokenPiece(ids[i], true) << "'\n";
    else
      llvm::outs() << (i ? " " : "") << ids[i];
  }
  if (!tokenizePieces)
    llvm::outs() << "\n";
  return 0;
}

static int runCompile() {
  tern::CompileOptions options;
  options.input = compileInput;
  options.output = outputPath;
  options.emit = emitKind;
  options.target = compileTarget;
  options.maxBatchRows = maxBatchRows;
  options.contextLength = contextLength;
  options.stopAfter = stopAfter;
  options.printVocabulary = printVocabulary;
  options.noTokenizer = noTokenizer;
  options.lmHead = lmHead;
  options.tiedEmbedding = tiedEmbedding;
  options.ternaryPacking = ternaryPacking;
  options.amx = amx;
  options.lutPrefill = lutPrefill;
  options.gpuFuseDecodeAttention = gpuFuseDecodeAttention;
  return tern::runCompile(options);
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "ternc: ahead-of-time compiler for ternary (BitNet b1.58) and "
                              "LLaMA-style language models\n");
  if (inspectCommand)
    return runInspect();
  if (compileCommand)
    return runCompile();
  if (tokenizeCommand)
    return runTokenize();
  llvm::errs() << "ternc: expected a command: inspect, compile or tokenize (see ternc --help)\n";
  return 1;
}
