// tokenizerForFile and the SafeTensors importer on tokenizer.model sources: each file form
// gives the sentencepiece library's ids.
#include "compiler/tokenizer/ModelTokenizer.h"
#include "frontends/safetensors/HFTokenizer.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <fstream>

namespace {

const std::string kFixtureDir = TERN_TOKENIZER_TEST_DATA_DIR;
const std::string kSharedDir = TERN_SHARED_DATA_DIR;

// A fresh directory under the system temp dir, removed with its files at the end of a test.
struct TempDir {
  llvm::SmallString<128> path;
  TempDir() { EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("tern-spm", path)); }
  ~TempDir() { llvm::sys::fs::remove_directories(path); }
  std::string file(const std::string &name) const { return (path + "/" + name).str(); }
  void copy(const std::string &from, const std::string &name) const {
    EXPECT_FALSE(llvm::sys::fs::copy_file(from, file(name))) << from;
  }
  void write(const std::string &name, const std::string &text) const {
    std::ofstream(file(name)) << text;
  }
};

std::vector<int32_t> encode(llvm::Expected<std::unique_ptr<tern::Tokenizer>> tokenizer,
                            const std::string &text) {
  if (!tokenizer) {
    ADD_FAILURE() << llvm::toString(tokenizer.takeError());
    return {};
  }
  return (*tokenizer)->encode(text);
}

TEST(ModelTokenizer, TokenizerModelFileAndDirectory) {
  const std::string model = kFixtureDir + "/spm_bpe_bytefallback.model";
  // sentencepiece: ▁He ll o ▁wor ld, after LLaMA's BOS.
  const std::vector<int32_t> want = {1, 399, 286, 483, 413, 341};
  EXPECT_EQ(encode(tern::tokenizerForFile(model), "Hello world"), want);

  TempDir dir;
  dir.copy(model, "tokenizer.model");
  EXPECT_EQ(encode(tern::tokenizerForFile(dir.path), "Hello world"), want);
  dir.write("tokenizer_config.json", R"({"add_bos_token": false, "add_eos_token": true})");
  EXPECT_EQ(encode(tern::tokenizerForFile(dir.path), "Hello world"),
            (std::vector<int32_t>{399, 286, 483, 413, 341, 2}));
  dir.write("tokenizer_config.json", "{not json");
  auto bad = tern::tokenizerForFile(dir.path);
  ASSERT_FALSE(bad);
  EXPECT_NE(llvm::toString(bad.takeError()).find("tokenizer_config.json: not valid JSON"),
            std::string::npos);
}

TEST(ModelTokenizer, DirectoryWithoutTokenizerIsAnError) {
  TempDir dir;
  auto t = tern::tokenizerForFile(dir.path);
  ASSERT_FALSE(t);
  EXPECT_NE(llvm::toString(t.takeError()).find("no tokenizer.json or tokenizer.model"),
            std::string::npos);
}

// A SentencePiece-style tokenizer.json (refused by the runtime) next to tokenizer.model: the
// latter is used.
TEST(ModelTokenizer, SentencePieceJsonFallsBackToTokenizerModel) {
  TempDir dir;
  dir.copy(kFixtureDir + "/spm_unigram.model", "tokenizer.model");
  dir.write("tokenizer.json",
            R"({"model": {"type": "BPE", "byte_fallback": true, "vocab": {}, "merges": []}})");
  EXPECT_EQ(encode(tern::tokenizerForFile(dir.path), "Hello world"),
            (std::vector<int32_t>{1, 105, 59, 13, 427}));
}

// The importer's TokenizerInfo from tokenizer.model, and the tokenizer built back from it.
TEST(ModelTokenizer, ImporterReadsTokenizerModel) {
  TempDir dir;
  dir.copy(kFixtureDir + "/spm_unigram.model", "tokenizer.model");
  dir.write("tokenizer_config.json",
            R"({"bos_token": "<s>", "add_bos_token": false, "chat_template": "{{ x }}"})");
  tern::fe::ModelDescription model;
  model.path = std::string(dir.path);
  model.format = "safetensors";
  ASSERT_FALSE(bool(tern::fe::readHFTokenizer(dir.path, model)));
  const tern::fe::TokenizerInfo &info = model.tokenizer;
  EXPECT_EQ(info.model, "unigram");
  EXPECT_EQ(info.source, dir.file("tokenizer.model"));
  EXPECT_EQ(info.vocabSize, 500);
  ASSERT_EQ(info.tokens.size(), 500u);
  ASSERT_EQ(info.scores.size(), 500u);
  ASSERT_EQ(info.tokenTypes.size(), 500u);
  EXPECT_EQ(info.tokens[105], "\xE2\x96\x81" "He");
  EXPECT_EQ(info.tokenTypes[0], static_cast<int32_t>(tern::TokenType::Unknown));
  EXPECT_EQ(info.bosId, 1);
  EXPECT_EQ(info.eosId, 2);
  EXPECT_EQ(info.unkId, 0);
  EXPECT_EQ(info.addBos, false);
  EXPECT_EQ(info.chatTemplate, "{{ x }}");
  EXPECT_TRUE(model.problems.empty());
  EXPECT_EQ(encode(tern::tokenizerForModel(model), "Hello world"),
            (std::vector<int32_t>{105, 59, 13, 427}));

  // A tokenizer.model the runtime refuses leaves token ids only, with a warning naming it.
  const std::string nfkc = kSharedDir + "/tokenizers/sentencepiece_test_model.model";
  if (!std::ifstream(nfkc))
    return;
  TempDir other;
  other.copy(nfkc, "tokenizer.model");
  tern::fe::ModelDescription refused;
  ASSERT_FALSE(bool(tern::fe::readHFTokenizer(other.path, refused)));
  EXPECT_TRUE(refused.tokenizer.model.empty());
  ASSERT_EQ(refused.problems.size(), 1u);
  EXPECT_EQ(refused.problems[0].severity, tern::fe::Problem::Warning);
  EXPECT_NE(refused.problems[0].message.find("normalizer 'nfkc'"), std::string::npos)
      << refused.problems[0].message;
}

} // namespace
