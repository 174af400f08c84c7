// The ternc driver: `ternc inspect`, `ternc compile` and `ternc tokenize`.
#include "compiler/ternc/Inspect.h"

#include "frontends/common/ModelFormats.h"
#include "compiler/tokenizer/ModelTokenizer.h"
#include "frontends/import/ImportModel.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"
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
                                      "tokenizer.json or a Hugging Face model directory)");
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
enum class EmitKind { MLIR, Artifact };
static cl::opt<EmitKind>
    emitKind("emit", cl::desc("What to produce"), cl::init(EmitKind::Artifact),
             cl::values(clEnumValN(EmitKind::MLIR, "mlir", "the imported tern IR (weights elided)"),
                        clEnumValN(EmitKind::Artifact, "artifact", "a .tern artifact")),
             cl::sub(compileCommand));
static cl::opt<std::string> outputPath("o", cl::desc("Output file ('-' for stdout)"),
                                       cl::value_desc("path"), cl::init("-"),
                                       cl::sub(compileCommand));
static cl::opt<int64_t> contextLength(
    "context", cl::desc("KV cache length to compile for (default: the model's, at most 4096)"),
    cl::init(0), cl::sub(compileCommand));
static cl::opt<bool> printVocabulary(
    "print-vocabulary", cl::desc("Print the full vocabulary in --emit=mlir output (elided by "
                                 "default when larger than 16 entries)"),
    cl::sub(compileCommand));

static int reportError(llvm::Error error) {
  llvm::WithColor::error(llvm::errs(), "ternc") << llvm::toString(std::move(error)) << "\n";
  return 1;
}

static int runInspect() {
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
  std::unique_ptr<tern::Tokenizer> tokenizer;
  llvm::StringRef path = tokenizeInput;
  if (path.ends_with(".json") && !path.ends_with(".index.json")) {
    tern::TokenizerData data;
    std::string error;
    // "x_tokenizer.json" pairs with "x_tokenizer_config.json" (special-token flags), if present.
    std::string config = path.drop_back(strlen(".json")).str() + "_config.json";
    if (!llvm::sys::fs::exists(config))
      config.clear();
    if (!tern::loadTokenizerJsonFile(path.str(), config, &data, &error))
      return reportError(llvm::createStringError("%s: %s", path.str().c_str(), error.c_str()));
    tokenizer = tern::Tokenizer::create(std::move(data), &error);
    if (!tokenizer)
      return reportError(llvm::createStringError("%s: %s", path.str().c_str(), error.c_str()));
  } else {
    llvm::Expected<tern::fe::ModelDescription> model = tern::fe::describeModel(path);
    if (!model)
      return reportError(model.takeError());
    auto built = tern::tokenizerForModel(*model);
    if (!built)
      return reportError(built.takeError());
    tokenizer = std::move(*built);
  }
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
  if (contextLength < 0)
    return reportError(llvm::createStringError("--context must be positive, got %lld",
                                               static_cast<long long>(contextLength)));
  if (emitKind == EmitKind::Artifact)
    return reportError(llvm::createStringError(
        "writing .tern artifacts is not available in this build yet; use --emit=mlir"));

  llvm::Expected<tern::fe::ModelDescription> model = tern::fe::describeModel(compileInput);
  if (!model)
    return reportError(model.takeError());

  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  tern::ImportOptions options;
  options.contextLength = contextLength;
  auto module = tern::importModel(*model, context, options);
  if (mlir::failed(module))
    return 1;

  mlir::OpPrintingFlags flags;
  if (!printVocabulary)
    flags.elideLargeElementsAttrs(16);
  llvm::Error written = llvm::writeToOutput(outputPath, [&](llvm::raw_ostream &os) {
    (*module)->print(os, flags);
    os << "\n";
    return llvm::Error::success();
  });
  if (written)
    return reportError(std::move(written));
  return 0;
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
