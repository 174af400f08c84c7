// Unit tests of the runtime tokenizers on small hand-made vocabularies and the real LLaMA-3 one.
#include "tern/tokenizer/Tokenizer.h"

#include <gtest/gtest.h>

namespace {

using tern::TokenType;

const std::string kDataDir = TERN_SHARED_DATA_DIR;
constexpr int32_t N = static_cast<int32_t>(TokenType::Normal);
constexpr int32_t C = static_cast<int32_t>(TokenType::Control);
constexpr int32_t U = static_cast<int32_t>(TokenType::UserDefined);
constexpr int32_t B = static_cast<int32_t>(TokenType::Byte);

// <unk> <s> </s>, the 256 byte tokens, then |extra| normal tokens with |scores|.
tern::TokenizerData spmVocab(const std::vector<std::pair<std::string, float>> &extra) {
  tern::TokenizerData d;
  d.model = tern::TokenizerModel::SentencePiece;
  d.tokens = {"<unk>", "<s>", "</s>"};
  d.tokenTypes = {static_cast<int32_t>(TokenType::Unknown), C, C};
  d.scores = {0, 0, 0};
  static const char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    d.tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
    d.tokenTypes.push_back(B);
    d.scores.push_back(0);
  }
  for (const auto &[text, score] : extra) {
    d.tokens.push_back(text);
    d.tokenTypes.push_back(N);
    d.scores.push_back(score);
  }
  d.unkId = 0, d.bosId = 1, d.eosId = 2;
  d.addBos = true;
  return d;
}

std::unique_ptr<tern::Tokenizer> make(tern::TokenizerData d) {
  std::string error;
  auto t = tern::Tokenizer::create(std::move(d), &error);
  EXPECT_TRUE(t) << error;
  return t;
}

TEST(SentencePieceTokenizer, MergesHighestScoreFirstAndAddsDummyPrefix) {
  // "▁ab" can come from "▁a"+"b" or "▁"+"ab"; the better-scored first merge decides.
  auto t = make(spmVocab({{"\xE2\x96\x81", -1}, {"a", -1}, {"b", -1}, {"\xE2\x96\x81" "a", -2},
                          {"ab", -5}, {"\xE2\x96\x81" "ab", -3}}));
  const int32_t base = 3 + 256;
  EXPECT_EQ(t->encode("ab", false), (std::vector<int32_t>{base + 5}));
  EXPECT_EQ(t->encode("ab", true), (std::vector<int32_t>{1, base + 5}));
  EXPECT_EQ(t->decode({1, base + 5}), "ab");
  EXPECT_EQ(t->decode({1, base + 5}, /*renderSpecial=*/true), "<s> ab");
}

TEST(SentencePieceTokenizer, UnknownCharactersFallBackToBytes) {
  auto t = make(spmVocab({{"\xE2\x96\x81", -1}}));
  // "é" = C3 A9 has no token: two byte tokens after the "▁" of the dummy prefix.
  std::vector<int32_t> ids = t->encode("\xC3\xA9", false);
  EXPECT_EQ(ids, (std::vector<int32_t>{3 + 256, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(t->decode(ids), "\xC3\xA9");
}

TEST(SentencePieceTokenizer, UserDefinedTokensMatchAlwaysControlTokensOnRequest) {
  tern::TokenizerData d = spmVocab({{"\xE2\x96\x81", -1}, {"x", -1}, {"\xE2\x96\x81x", -1}});
  d.tokens.push_back("<tool>");
  d.tokenTypes.push_back(U);
  d.scores.push_back(0);
  const int32_t tool = static_cast<int32_t>(d.tokens.size()) - 1, x = 3 + 256 + 1,
                spaceX = x + 1;
  auto t = make(std::move(d));
  // After a special token the next text gets the dummy prefix again, as in llama.cpp.
  EXPECT_EQ(t->encode("x<tool>x", false), (std::vector<int32_t>{spaceX, tool, spaceX}));
  std::vector<int32_t> plain = t->encode("</s>", false, /*parseSpecial=*/false);
  EXPECT_NE(plain, (std::vector<int32_t>{2}));
  EXPECT_EQ(t->encode("</s>", false, /*parseSpecial=*/true), (std::vector<int32_t>{2}));
}

TEST(SentencePieceTokenizer, RstripDropsSpacesAfterASpecialToken) {
  tern::TokenizerData d = spmVocab({{"\xE2\x96\x81", -1}, {"x", -1}, {"\xE2\x96\x81x", -1}});
  d.stripFlags.assign(d.tokens.size(), 0);
  d.stripFlags[2] = tern::kStripRight;
  auto t = make(std::move(d));
  EXPECT_EQ(t->encode("</s>  x", false, true), (std::vector<int32_t>{2, 3 + 256 + 2}));
}

// Bytes as GPT-2 spells them: "a" is "a", space is "Ġ" (U+0120).
tern::TokenizerData bpeVocab() {
  tern::TokenizerData d;
  d.model = tern::TokenizerModel::ByteLevelBPE;
  d.pre = tern::PreTokenizer::GPT2;
  d.addSpacePrefix = false;
  d.tokens = {"a", "b", "c", "\xC4\xA0", "ab", "bc", "\xC4\xA0" "a", "<|endoftext|>"};
  d.tokenTypes = {N, N, N, N, N, N, N, C};
  d.merges = {"b c", "a b", "\xC4\xA0 a"};
  d.eosId = 7;
  return d;
}

TEST(ByteLevelBPETokenizer, MergesLowestRankFirst) {
  auto t = make(bpeVocab());
  // "abc": "b c" (rank 0) wins over "a b" (rank 1).
  EXPECT_EQ(t->encode("abc", false), (std::vector<int32_t>{0, 5}));
  EXPECT_EQ(t->encode("ab a", false), (std::vector<int32_t>{4, 6}));
  EXPECT_EQ(t->decode({4, 6}), "ab a");
  EXPECT_EQ(t->encode("<|endoftext|>", false, true), (std::vector<int32_t>{7}));
}

TEST(ByteLevelBPETokenizer, RejectsMalformedMerges) {
  tern::TokenizerData d = bpeVocab();
  d.merges.push_back("nospace");
  std::string error;
  EXPECT_FALSE(tern::Tokenizer::create(std::move(d), &error));
  EXPECT_NE(error.find("nospace"), std::string::npos) << error;
}

TEST(Tokenizer, RejectsInconsistentData) {
  std::string error;
  tern::TokenizerData d = spmVocab({});
  d.scores.pop_back();
  EXPECT_FALSE(tern::Tokenizer::create(d, &error));
  EXPECT_NE(error.find("scores"), std::string::npos) << error;
  d = spmVocab({});
  d.tokens.push_back("<s>");
  d.tokenTypes.push_back(N);
  d.scores.push_back(0);
  EXPECT_FALSE(tern::Tokenizer::create(d, &error));
  EXPECT_NE(error.find("twice"), std::string::npos) << error;
  d = spmVocab({});
  d.bosId = 100000;
  EXPECT_FALSE(tern::Tokenizer::create(d, &error));
}

TEST(TokenizerData, GGUFDefaultsFollowLlamaCpp) {
  tern::GGUFTokenizerFields f;
  f.model = "gpt2";
  f.pre = "llama-bpe";
  f.tokens = {"a", "b", "ab", "<|begin_of_text|>"};
  f.tokenTypes = {N, N, N, C};
  f.merges = {"a b"};
  f.bosId = 3;
  tern::TokenizerData d;
  std::string error;
  ASSERT_TRUE(tern::tokenizerDataFromGGUF(f, &d, &error)) << error;
  EXPECT_EQ(d.pre, tern::PreTokenizer::Llama3);
  EXPECT_TRUE(d.addBos);
  EXPECT_TRUE(d.ignoreMerges);
  EXPECT_EQ(d.bosId, 3);

  f.pre = "qwen2";
  EXPECT_FALSE(tern::tokenizerDataFromGGUF(f, &d, &error));
  EXPECT_NE(error.find("qwen2"), std::string::npos) << error;
  f.model = "bert";
  EXPECT_FALSE(tern::tokenizerDataFromGGUF(f, &d, &error));
  EXPECT_NE(error.find("bert"), std::string::npos) << error;
}

TEST(TokenizerJson, ReportsBadInputWithoutThrowing) {
  tern::TokenizerData d;
  std::string error;
  EXPECT_FALSE(tern::tokenizerDataFromJson("{not json", "", &d, &error));
  EXPECT_NE(error.find("not valid JSON"), std::string::npos) << error;
  EXPECT_FALSE(tern::tokenizerDataFromJson(R"({"model":{"type":"Unigram"}})", "", &d, &error));
  EXPECT_NE(error.find("BPE"), std::string::npos) << error;
}

TEST(TokenizerJson, ReadsPairMergesAndGPT2PreTokenizer) {
  const char *json = R"({
    "added_tokens": [{"id": 3, "content": "<|endoftext|>", "special": true}],
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
              "merges": [["a", "b"]]}})";
  tern::TokenizerData d;
  std::string error;
  ASSERT_TRUE(tern::tokenizerDataFromJson(json, "", &d, &error)) << error;
  EXPECT_EQ(d.pre, tern::PreTokenizer::GPT2);
  EXPECT_EQ(d.merges, (std::vector<std::string>{"a b"}));
  EXPECT_EQ(d.tokenTypes[3], C);
  auto t = make(std::move(d));
  EXPECT_EQ(t->encode("abab", false), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(t->encode("ab<|endoftext|>", false, true), (std::vector<int32_t>{2, 3}));
}

TEST(Llama3Tokenizer, SpecialTokensBosAndStreaming) {
  tern::TokenizerData d;
  std::string error;
  const std::string dir = kDataDir + "/tokenizers/";
  if (!tern::loadTokenizerJsonFile(dir + "llama3_tokenizer.json",
                                   dir + "llama3_tokenizer_config.json", &d, &error))
    GTEST_SKIP() << error;
  auto t = make(std::move(d));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->bosId(), 128000);
  EXPECT_EQ(t->eosId(), 128001);
  // "Hello world" is 9906 1917 in the reference vectors.
  EXPECT_EQ(t->encode("Hello world"), (std::vector<int32_t>{128000, 9906, 1917}));
  EXPECT_EQ(t->encode("<|start_header_id|>user", false, /*parseSpecial=*/true),
            (std::vector<int32_t>{128006, 882}));
  EXPECT_NE(t->encode("<|start_header_id|>", false, false).size(), 1u);
  // A 4-byte emoji split over byte tokens comes out whole, once its last byte arrives.
  std::vector<int32_t> ids = t->encode("a \xF0\x9F\xA6\x99!", false);
  tern::TokenStreamDecoder stream(*t, /*atStart=*/true);
  std::string text;
  for (int32_t id : ids) {
    std::string part = stream.push(id);
    for (unsigned char c : part)
      EXPECT_TRUE(c < 0x80 || part.size() >= 4) << "partial UTF-8 handed out";
    text += part;
  }
  text += stream.finish();
  EXPECT_EQ(text, "a \xF0\x9F\xA6\x99!");
  EXPECT_EQ(t->decode({128000, 9906}, /*renderSpecial=*/true), "<|begin_of_text|>Hello");
  EXPECT_EQ(t->decode({128000, 9906}), "Hello");
}

} // namespace
