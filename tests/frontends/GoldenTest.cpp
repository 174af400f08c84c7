// End-to-end checks of the import path against independent references: Hugging Face
// transformers' logits and greedy tokens for the BitNet checkpoints, and llama.cpp's greedy
// completion of stories260K, computed by running the imported IR on the reference kernels.
#include "compiler/reference/ReferenceInterpreter.h"
#include "compiler/tokenizer/ModelTokenizer.h"
#include "frontends/common/ModelFormats.h"
#include "frontends/common/TensorDecode.h"
#include "frontends/import/ImportModel.h"
#include "frontends/safetensors/SafeTensorsReader.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace tern {
namespace {

const std::string kDataDir = TERN_SHARED_DATA_DIR;

// The imported module, its description and an interpreter over them, kept together.
struct LoadedModel {
  fe::ModelDescription description;
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;

  std::unique_ptr<ReferenceInterpreter> interpreter() {
    auto interp = ReferenceInterpreter::create(*module, description);
    EXPECT_TRUE(bool(interp)) << llvm::toString(interp.takeError());
    return interp ? std::move(*interp) : nullptr;
  }
};

std::unique_ptr<LoadedModel> load(const std::string &path) {
  auto model = std::make_unique<LoadedModel>();
  auto description = fe::describeModel(path);
  if (!description) {
    ADD_FAILURE() << llvm::toString(description.takeError());
    return nullptr;
  }
  model->description = std::move(*description);
  auto module = importModel(model->description, model->context);
  if (mlir::failed(module)) {
    ADD_FAILURE() << path << ": import failed";
    return nullptr;
  }
  model->module = std::move(*module);
  return model;
}

int32_t argmax(const float *row, int64_t n) {
  return int32_t(std::max_element(row, row + n) - row);
}

// Prefills |prompt| then decodes one token at a time, greedily.
std::vector<int32_t> greedy(ReferenceInterpreter &interp, std::vector<int32_t> prompt,
                            int steps) {
  std::vector<int32_t> out;
  auto logits = interp.forward(prompt, 0);
  if (!logits) {
    ADD_FAILURE() << llvm::toString(logits.takeError());
    return out;
  }
  int64_t pos = prompt.size();
  int32_t next = argmax(logits->data() + (prompt.size() - 1) * interp.vocabSize(),
                        interp.vocabSize());
  for (int i = 0; i < steps; ++i) {
    out.push_back(next);
    if (i + 1 == steps)
      break;
    auto step = interp.forward({next}, pos++);
    if (!step) {
      ADD_FAILURE() << llvm::toString(step.takeError());
      return out;
    }
    next = argmax(step->data(), interp.vocabSize());
  }
  return out;
}

class HFBitNetGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(HFBitNetGolden, LogitsAndGreedyTokensMatchTransformers) {
  const std::string dir = kDataDir + "/hf-bitnet/" + GetParam();
  if (!llvm::sys::fs::exists(dir))
    GTEST_SKIP() << dir << " not present";
  auto model = load(dir);
  ASSERT_TRUE(model);
  auto golden = fe::SafeTensorsReader::open(dir + "/golden.safetensors");
  ASSERT_TRUE(bool(golden)) << llvm::toString(golden.takeError());
  std::map<std::string, const fe::TensorRecord *> tensors;
  for (const fe::TensorRecord &t : (*golden)->tensors())
    tensors[t.name] = &t;

  for (const char *prompt : {"p0", "p1"}) {
    SCOPED_TRACE(prompt);
    const std::string p = prompt;
    ASSERT_TRUE(tensors.count(p + ".input_ids") && tensors.count(p + ".logits") &&
                tensors.count(p + ".greedy"));
    auto ids = fe::decodeToFloat(*tensors[p + ".input_ids"]);
    auto refLogits = fe::decodeToFloat(*tensors[p + ".logits"]);
    auto refGreedy = fe::decodeToFloat(*tensors[p + ".greedy"]);
    ASSERT_TRUE(ids && refLogits && refGreedy);
    std::vector<int32_t> tokens(ids->begin(), ids->end());

    auto interp = model->interpreter();
    ASSERT_TRUE(interp);
    auto logits = interp->forward(tokens, 0);
    ASSERT_TRUE(bool(logits)) << llvm::toString(logits.takeError());
    ASSERT_EQ(logits->size(), refLogits->size());
    double maxDiff = 0, maxRef = 0;
    for (size_t i = 0; i < logits->size(); ++i) {
      maxDiff = std::max(maxDiff, double(std::fabs((*logits)[i] - (*refLogits)[i])));
      maxRef = std::max(maxRef, double(std::fabs((*refLogits)[i])));
    }
    EXPECT_LT(maxDiff / maxRef, 2e-3) << "max |ours - ref| = " << maxDiff
                                      << ", max |ref| = " << maxRef;

    std::vector<int32_t> expected(refGreedy->begin() + tokens.size(), refGreedy->end());
    auto fresh = model->interpreter();
    ASSERT_TRUE(fresh);
    EXPECT_EQ(greedy(*fresh, tokens, expected.size()), expected);
  }
}

INSTANTIATE_TEST_SUITE_P(AllVariants, HFBitNetGolden,
                         ::testing::Values("tiny_a_online", "tiny_a_offline_autobitlinear",
                                           "tiny_a_offline_bitlinear", "tiny_b_online",
                                           "tiny_b_offline_autobitlinear",
                                           "tiny_b_offline_bitlinear"));

TEST(Stories260KGolden, GreedyCompletionMatchesLlamaCpp) {
  const std::string goldenPath = kDataDir + "/golden/stories260K.greedy.json";
  auto text = llvm::MemoryBuffer::getFile(goldenPath);
  if (!text)
    GTEST_SKIP() << goldenPath << " not present";
  auto golden = llvm::json::parse((*text)->getBuffer());
  ASSERT_TRUE(bool(golden)) << llvm::toString(golden.takeError());
  const llvm::json::Object &g = *golden->getAsObject();
  std::vector<int32_t> promptTokens;
  for (const llvm::json::Value &v : *g.getArray("prompt_tokens"))
    promptTokens.push_back(int32_t(*v.getAsInteger()));

  auto model = load(kDataDir + "/gguf/stories260K.gguf");
  ASSERT_TRUE(model);
  auto tokenizer = tokenizerForModel(model->description);
  ASSERT_TRUE(bool(tokenizer)) << llvm::toString(tokenizer.takeError());
  std::vector<int32_t> prompt = (*tokenizer)->encode(g.getString("prompt")->str(), true);
  EXPECT_EQ(prompt, promptTokens);

  auto interp = model->interpreter();
  ASSERT_TRUE(interp);
  std::vector<int32_t> completion = greedy(*interp, prompt, int(*g.getInteger("n_predict")));
  // Decode after the prompt, as llama.cpp prints it: the first piece keeps its leading space.
  TokenStreamDecoder stream(**tokenizer, /*atStart=*/false);
  std::string generated;
  for (int32_t id : completion)
    generated += stream.push(id);
  generated += stream.finish();
  EXPECT_EQ(generated, g.getString("completion")->str());
}

} // namespace
} // namespace tern
