// llama.cpp's tokenizer reference vectors (test-tokenizer-0): every text must give exactly its ids.
#include "tern/tokenizer/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#ifdef TERN_TOKENIZER_TEST_HAVE_GGUF
#include "compiler/tokenizer/ModelTokenizer.h"
#include "frontends/common/ModelFormats.h"
#include "llvm/Support/Error.h"
#endif

namespace {

const std::string kDataDir = TERN_SHARED_DATA_DIR;

bool readFile(const std::string &path, std::string *out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

struct VectorCase {
  std::string text;
  std::vector<int32_t> ids;
};

// As test-tokenizer-0 reads them: texts split on "\n__ggml_vocab_test__\n" (so the file's final
// separator ends the last text), one line of space-separated ids per text.
std::vector<VectorCase> readVectors(const std::string &inpPath, const std::string &outPath) {
  std::string raw, out;
  EXPECT_TRUE(readFile(inpPath, &raw)) << inpPath;
  EXPECT_TRUE(readFile(outPath, &out)) << outPath;
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < raw.size();) {
    size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(raw.substr(pos));
      break;
    }
    texts.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<VectorCase> cases;
  std::istringstream lines(out);
  std::string line;
  for (size_t i = 0; std::getline(lines, line); ++i) {
    VectorCase c;
    c.text = i < texts.size() ? texts[i] : std::string();
    std::istringstream ids(line);
    for (int32_t id; ids >> id;)
      c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  EXPECT_EQ(texts.size(), cases.size()) << "texts and id lines differ in " << inpPath;
  return cases;
}

std::string show(const std::vector<int32_t> &ids) {
  std::string s;
  for (int32_t id : ids)
    s += std::to_string(id) + " ";
  return s;
}

bool validUtf8(const std::string &s) {
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<uint8_t>(s[i]);
    size_t n = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size())
      return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<uint8_t>(s[i + k]) & 0xC0) != 0x80)
        return false;
    i += n;
  }
  return true;
}

// Runs one vector set: ids exact (no BOS, special tokens not parsed: what test-tokenizer-0 asks
// for) and decode(encode(text)) == text.
void checkVectors(const tern::Tokenizer &tok, const std::string &inp, const std::string &out) {
  std::vector<VectorCase> cases = readVectors(inp, out);
  ASSERT_FALSE(cases.empty());
  int failures = 0;
  size_t totalIds = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const VectorCase &c = cases[i];
    std::vector<int32_t> got = tok.encode(c.text, /*addSpecial=*/false, /*parseSpecial=*/false);
    if (got != c.ids) {
      ++failures;
      ADD_FAILURE() << "text " << i << " '" << c.text << "'\n  expected " << show(c.ids)
                    << "\n  got      " << show(got);
    }
    if (validUtf8(c.text)) {
      EXPECT_EQ(tok.decode(got), c.text) << "round trip of text " << i;
    }
    totalIds += c.ids.size();
  }
  EXPECT_EQ(failures, 0) << "of " << cases.size() << " texts in " << inp;
  EXPECT_GT(totalIds, cases.size()) << "the expected ids look empty: " << out;
  ::testing::Test::RecordProperty("texts", static_cast<int>(cases.size()));
}

#ifdef TERN_TOKENIZER_TEST_HAVE_GGUF
// The vocabulary through the compiler's GGUF reader, as the artifact writer will get it.
std::unique_ptr<tern::Tokenizer> tokenizerFromGGUF(const std::string &path) {
  auto model = tern::fe::describeGGUF(path);
  if (!model) {
    ADD_FAILURE() << llvm::toString(model.takeError());
    return nullptr;
  }
  auto tok = tern::tokenizerForModel(*model);
  if (!tok) {
    ADD_FAILURE() << llvm::toString(tok.takeError());
    return nullptr;
  }
  return std::move(*tok);
}
#endif

void runGGUFSet(const std::string &name) {
#ifdef TERN_TOKENIZER_TEST_HAVE_GGUF
  const std::string base = kDataDir + "/gguf/ggml-vocab-" + name + ".gguf";
  std::string probe;
  if (!readFile(base + ".inp", &probe))
    GTEST_SKIP() << "no test data at " << base;
  auto tok = tokenizerFromGGUF(base);
  ASSERT_TRUE(tok);
  checkVectors(*tok, base + ".inp", base + ".out");
#else
  GTEST_SKIP() << "built without the GGUF reader (TERN_BUILD_COMPILER=OFF): " << name;
#endif
}

std::unique_ptr<tern::Tokenizer> llama3FromJson() {
  tern::TokenizerData data;
  std::string error;
  const std::string dir = kDataDir + "/tokenizers/";
  if (!tern::loadTokenizerJsonFile(dir + "llama3_tokenizer.json", dir + "llama3_tokenizer_config.json",
                                   &data, &error)) {
    ADD_FAILURE() << error;
    return nullptr;
  }
  auto tok = tern::Tokenizer::create(std::move(data), &error);
  if (!tok)
    ADD_FAILURE() << error;
  return tok;
}

TEST(TokenizerVectors, LlamaSpmGGUF) { runGGUFSet("llama-spm"); }
TEST(TokenizerVectors, Phi3GGUF) { runGGUFSet("phi-3"); }
TEST(TokenizerVectors, Gpt2GGUF) { runGGUFSet("gpt-2"); }

TEST(TokenizerVectors, Llama3BpeTokenizerJson) {
  const std::string base = kDataDir + "/gguf/ggml-vocab-llama-bpe.gguf";
  std::string probe;
  if (!readFile(base + ".inp", &probe))
    GTEST_SKIP() << "no test data at " << base;
  auto tok = llama3FromJson();
  ASSERT_TRUE(tok);
  checkVectors(*tok, base + ".inp", base + ".out");
  checkVectors(*tok, base + ".inp.v2025", base + ".out.v2025");
}

// The prompt ids llama.cpp fed stories260K in the greedy golden run.
TEST(TokenizerGolden, Stories260KPromptMatchesLlamaCpp) {
#ifdef TERN_TOKENIZER_TEST_HAVE_GGUF
  std::string golden;
  if (!readFile(kDataDir + "/golden/stories260K.greedy.json", &golden))
    GTEST_SKIP() << "no golden data";
  nlohmann::json g = nlohmann::json::parse(golden);
  auto tok = tokenizerFromGGUF(kDataDir + "/gguf/stories260K.gguf");
  ASSERT_TRUE(tok);
  const std::string prompt = g["prompt"].get<std::string>();
  EXPECT_EQ(tok->encode(prompt), g["prompt_tokens"].get<std::vector<int32_t>>());
  const std::string text = prompt + g["completion"].get<std::string>();
  EXPECT_EQ(tok->decode(tok->encode(text)), text);
#else
  GTEST_SKIP() << "built without the GGUF reader";
#endif
}

// The prompt ids of the real bitnet-b1.58-2B-4T run (bitnet-go goldens): LLaMA-3 vocabulary, BOS.
TEST(TokenizerGolden, BitNet2B4TPromptMatches) {
  std::string prompt, ids;
  if (!readFile(kDataDir + "/golden/bitnet-go_prompt.txt", &prompt) ||
      !readFile(kDataDir + "/golden/bitnet-go_expected.i2s_2b.prompt_tokens.json", &ids))
    GTEST_SKIP() << "no golden data";
  while (!prompt.empty() && prompt.back() == '\n')
    prompt.pop_back(); // the file ends with a newline the prompt did not have
  auto tok = llama3FromJson();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode(prompt), nlohmann::json::parse(ids).get<std::vector<int32_t>>());
}

} // namespace
