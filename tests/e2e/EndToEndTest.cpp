// Compiles real models with ternc's pipeline, runs the artifacts through the runtime's C API
// with generated and with reference kernels, and compares with independent goldens.
#include "codegen/CPU/CPUCodegen.h"
#include "compiler/artifact/ArtifactWriter.h"
#include "compiler/program/ProgramBuilder.h"
#include "frontends/common/ModelFormats.h"
#include "frontends/common/TensorDecode.h"
#include "frontends/import/ImportModel.h"
#include "frontends/safetensors/SafeTensorsReader.h"
#include "tern/Transforms/Passes.h"
#include "tern/tern.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tern {
namespace {

const std::string kDataDir = TERN_SHARED_DATA_DIR;

// How a test runs an artifact: generated kernels of one target, or the reference twins.
struct Variant {
  std::string model;  // path under the shared data directory
  std::string target; // x86-64-v4, x86-64-v3, generic
  bool reference = false;
};

// Names the variant in test listings instead of gtest's byte dump.
void PrintTo(const Variant &variant, std::ostream *os) {
  *os << variant.model << " on " << (variant.reference ? "reference kernels" : variant.target);
}

std::string variantName(const ::testing::TestParamInfo<Variant> &info) {
  std::string name = llvm::sys::path::filename(info.param.model).str() + "_" +
                     (info.param.reference ? std::string("reference") : info.param.target);
  for (char &c : name)
    if (!isalnum(static_cast<unsigned char>(c)))
      c = '_';
  return name;
}

std::string scratchDir() {
  static std::string dir = [] {
    llvm::SmallString<128> path;
    if (llvm::sys::fs::createUniqueDirectory("tern-e2e", path))
      return std::string();
    // The artifacts are scratch: gone when the test process ends.
    static std::string created = path.str().str();
    std::atexit([] { llvm::sys::fs::remove_directories(created); });
    return created;
  }();
  return dir;
}

// Compiles |model| for |targetName| into a temporary artifact, once per process.
std::string compiled(const std::string &model, const std::string &targetName,
                     int64_t maxBatchRows) {
  static std::map<std::string, std::string> cache;
  const std::string key = model + "|" + targetName + "|" + std::to_string(maxBatchRows);
  if (auto found = cache.find(key); found != cache.end())
    return found->second;

  auto target = cpu::resolveCpuTarget(targetName);
  if (!target) {
    ADD_FAILURE() << llvm::toString(target.takeError());
    return "";
  }
  auto description = fe::describeModel(model);
  if (!description) {
    ADD_FAILURE() << llvm::toString(description.takeError());
    return "";
  }
  mlir::MLIRContext context;
  auto module = importModel(*description, context);
  if (mlir::failed(module)) {
    ADD_FAILURE() << model << ": import failed";
    return "";
  }
  mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
  mlir::tern::GraphPipelineOptions graph;
  graph.target = target->name;
  mlir::tern::buildTernGraphPipeline(pm, graph);
  if (mlir::failed(pm.run(**module))) {
    ADD_FAILURE() << model << ": graph pipeline failed";
    return "";
  }
  program::ProgramOptions options;
  options.target = *target;
  options.maxBatchRows = maxBatchRows;
  auto built = program::buildProgram(**module, *description, options);
  if (!built) {
    ADD_FAILURE() << llvm::toString(built.takeError());
    return "";
  }
  std::string path = scratchDir() + "/" + std::to_string(cache.size()) + ".tern";
  if (llvm::Error error = writeArtifact(path, (*built)->contents)) {
    ADD_FAILURE() << llvm::toString(std::move(error));
    return "";
  }
  cache[key] = path;
  return path;
}

// An opened artifact and one session over it; released in reverse order.
struct Runner {
  tern_model_t *model = nullptr;
  tern_session_t *session = nullptr;
  tern_model_info_t info{};
  ~Runner() {
    tern_session_release(session);
    tern_model_release(model);
  }
};

std::string takeMessage(tern_status_t status) {
  std::string message = std::string(tern_status_code_name(tern_status_code(status))) + ": " +
                        tern_status_message(status);
  tern_status_free(status);
  return message;
}

// Opens |path|; returns false with |skipReason| set when the host cannot run the target.
bool open(const std::string &path, bool reference, Runner &runner, std::string &skipReason) {
  tern_model_options_t options;
  tern_model_options_init(&options);
  options.num_threads = 2;
  options.kernels = reference ? TERN_KERNELS_REFERENCE : TERN_KERNELS_GENERATED;
  tern_status_t status = tern_model_open(path.c_str(), &options, &runner.model);
  if (tern_status_code(status) == TERN_STATUS_UNAVAILABLE) {
    skipReason = takeMessage(status);
    return false;
  }
  EXPECT_TRUE(tern_status_ok(status)) << takeMessage(status);
  if (!runner.model)
    return false;
  tern_model_info(runner.model, &runner.info);
  status = tern_session_create(runner.model, nullptr, &runner.session);
  EXPECT_TRUE(tern_status_ok(status)) << takeMessage(status);
  return runner.session != nullptr;
}

int32_t argmax(const float *row, int64_t n) {
  return int32_t(std::max_element(row, row + n) - row);
}

// Evaluates |prompt| from position 0, then |steps| greedy tokens one at a time.
std::vector<int32_t> greedy(Runner &runner, const std::vector<int32_t> &prompt, int steps) {
  std::vector<int32_t> out;
  tern_session_reset(runner.session);
  tern_status_t status = tern_session_eval(runner.session, prompt.data(), prompt.size());
  if (!tern_status_ok(status)) {
    ADD_FAILURE() << takeMessage(status);
    return out;
  }
  for (int i = 0; i < steps; ++i) {
    int32_t next = argmax(tern_session_logits(runner.session), runner.info.vocab_size);
    out.push_back(next);
    if (i + 1 == steps)
      break;
    status = tern_session_eval(runner.session, &next, 1);
    if (!tern_status_ok(status)) {
      ADD_FAILURE() << takeMessage(status);
      return out;
    }
  }
  return out;
}

class HFBitNetEndToEnd : public ::testing::TestWithParam<Variant> {};

TEST_P(HFBitNetEndToEnd, LogitsAndGreedyTokensMatchTransformers) {
  const Variant &v = GetParam();
  const std::string dir = kDataDir + "/" + v.model;
  if (!llvm::sys::fs::exists(dir + "/golden.safetensors"))
    GTEST_SKIP() << dir << " (with golden.safetensors) not present";
  // Prefill in chunks of 4 rows so the goldens also cover chunked prompts.
  std::string artifact = compiled(dir, v.target, /*maxBatchRows=*/4);
  ASSERT_FALSE(artifact.empty());
  Runner runner;
  std::string skip;
  if (!open(artifact, v.reference, runner, skip)) {
    if (!skip.empty())
      GTEST_SKIP() << "host cannot run " << v.target << ": " << skip;
    FAIL() << "could not open " << artifact;
  }

  auto golden = fe::SafeTensorsReader::open(dir + "/golden.safetensors");
  ASSERT_TRUE(bool(golden)) << llvm::toString(golden.takeError());
  std::map<std::string, const fe::TensorRecord *> tensors;
  for (const fe::TensorRecord &t : (*golden)->tensors())
    tensors[t.name] = &t;

  for (const std::string p : {"p0", "p1"}) {
    SCOPED_TRACE(p);
    ASSERT_TRUE(tensors.count(p + ".input_ids") && tensors.count(p + ".logits") &&
                tensors.count(p + ".greedy"));
    auto ids = fe::decodeToFloat(*tensors[p + ".input_ids"]);
    auto refLogits = fe::decodeToFloat(*tensors[p + ".logits"]);
    auto refGreedy = fe::decodeToFloat(*tensors[p + ".greedy"]);
    ASSERT_TRUE(ids && refLogits && refGreedy);
    std::vector<int32_t> tokens(ids->begin(), ids->end());

    std::vector<float> logits(tokens.size() * runner.info.vocab_size);
    ASSERT_EQ(logits.size(), refLogits->size());
    tern_session_reset(runner.session);
    tern_status_t status = tern_session_eval_all_logits(runner.session, tokens.data(),
                                                        tokens.size(), logits.data());
    ASSERT_TRUE(tern_status_ok(status)) << takeMessage(status);
    double maxDiff = 0, maxRef = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
      maxDiff = std::max(maxDiff, double(std::fabs(logits[i] - (*refLogits)[i])));
      maxRef = std::max(maxRef, double(std::fabs((*refLogits)[i])));
    }
    EXPECT_LT(maxDiff / maxRef, 2e-3)
        << "max |ours - ref| = " << maxDiff << ", max |ref| = " << maxRef;

    std::vector<int32_t> expected(refGreedy->begin() + tokens.size(), refGreedy->end());
    EXPECT_EQ(greedy(runner, tokens, expected.size()), expected);
  }
}

std::vector<Variant> variantsOf(const std::vector<std::string> &models) {
  std::vector<Variant> variants;
  for (const std::string &model : models) {
    for (const char *target : {"x86-64-v4", "x86-64-v3", "generic"})
      variants.push_back({model, target, false});
    variants.push_back({model, "generic", true});
  }
  return variants;
}

INSTANTIATE_TEST_SUITE_P(
    AllCheckpoints, HFBitNetEndToEnd,
    ::testing::ValuesIn(variantsOf(
        {"hf-bitnet/tiny_a_online", "hf-bitnet/tiny_a_offline_autobitlinear",
         "hf-bitnet/tiny_a_offline_bitlinear", "hf-bitnet/tiny_b_online",
         "hf-bitnet/tiny_b_offline_autobitlinear", "hf-bitnet/tiny_b_offline_bitlinear"})),
    variantName);

class Stories260KEndToEnd : public ::testing::TestWithParam<Variant> {};

TEST_P(Stories260KEndToEnd, GreedyCompletionMatchesLlamaCpp) {
  const Variant &v = GetParam();
  const std::string goldenPath = kDataDir + "/golden/stories260K.greedy.json";
  const std::string modelPath = kDataDir + "/" + v.model;
  auto text = llvm::MemoryBuffer::getFile(goldenPath);
  if (!text || !llvm::sys::fs::exists(modelPath))
    GTEST_SKIP() << goldenPath << " or " << modelPath << " not present";
  auto golden = llvm::json::parse((*text)->getBuffer());
  ASSERT_TRUE(bool(golden)) << llvm::toString(golden.takeError());
  const llvm::json::Object &g = *golden->getAsObject();
  std::vector<int32_t> promptTokens;
  for (const llvm::json::Value &t : *g.getArray("prompt_tokens"))
    promptTokens.push_back(int32_t(*t.getAsInteger()));

  std::string artifact = compiled(modelPath, v.target, /*maxBatchRows=*/64);
  ASSERT_FALSE(artifact.empty());
  Runner runner;
  std::string skip;
  if (!open(artifact, v.reference, runner, skip)) {
    if (!skip.empty())
      GTEST_SKIP() << "host cannot run " << v.target << ": " << skip;
    FAIL() << "could not open " << artifact;
  }

  // The artifact's own tokenizer must reproduce llama.cpp's prompt tokens.
  std::string prompt = g.getString("prompt")->str();
  std::vector<int32_t> tokens(64);
  size_t count = 0;
  tern_status_t status = tern_model_tokenize(runner.model, prompt.data(), prompt.size(),
                                             /*add_bos=*/1, /*parse_special=*/0, tokens.data(),
                                             tokens.size(), &count);
  ASSERT_TRUE(tern_status_ok(status)) << takeMessage(status);
  tokens.resize(count);
  EXPECT_EQ(tokens, promptTokens);

  std::vector<int32_t> completion = greedy(runner, promptTokens, int(*g.getInteger("n_predict")));
  std::string generated;
  for (int32_t id : completion) {
    char piece[64];
    size_t length = 0;
    status = tern_model_token_to_piece(runner.model, id, piece, sizeof(piece), &length);
    ASSERT_TRUE(tern_status_ok(status)) << takeMessage(status);
    generated.append(piece, length);
  }
  EXPECT_EQ(generated, g.getString("completion")->str());
}

INSTANTIATE_TEST_SUITE_P(LlamaGGUF, Stories260KEndToEnd,
                         ::testing::ValuesIn(variantsOf({"gguf/stories260K.gguf"})),
                         variantName);

} // namespace
} // namespace tern
