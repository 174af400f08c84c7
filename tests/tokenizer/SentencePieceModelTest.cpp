// SentencePiece tokenizer.model files: ids equal to the sentencepiece library's, and clear errors
// for models the runtime cannot run and for corrupt files.
#include "tern/tokenizer/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <sstream>

namespace {

const std::string kFixtureDir = TERN_TOKENIZER_TEST_DATA_DIR;
const std::string kSharedDir = TERN_SHARED_DATA_DIR;

bool readFile(const std::string &path, std::string *out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

std::string show(const std::vector<int32_t> &ids) {
  std::string s;
  for (int32_t id : ids)
    s += std::to_string(id) + " ";
  return s;
}

// The expectations make_sentencepiece_fixtures.py wrote for |key|.
const nlohmann::json &expectations(const std::string &key) {
  static const nlohmann::json all = [] {
    std::string text;
    EXPECT_TRUE(readFile(kFixtureDir + "/sentencepiece_expected.json", &text));
    return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  }();
  static const nlohmann::json none;
  auto it = all.find(key);
  return it == all.end() ? none : *it;
}

std::unique_ptr<tern::Tokenizer> load(const std::string &path, std::string *error) {
  tern::TokenizerData data;
  if (!tern::loadSentencePieceModelFile(path, &data, error))
    return nullptr;
  return tern::Tokenizer::create(std::move(data), error);
}

// Every expected text encodes (no BOS/EOS, as sentencepiece's encode()) to exactly its ids.
void checkModel(const std::string &path, const nlohmann::json &expected, bool roundTrip) {
  ASSERT_TRUE(expected.is_object()) << "no expectations for " << path;
  std::string error;
  std::unique_ptr<tern::Tokenizer> tokenizer = load(path, &error);
  ASSERT_TRUE(tokenizer) << error;
  EXPECT_EQ(tokenizer->vocabSize(), expected["vocab_size"].get<int32_t>());
  EXPECT_EQ(tokenizer->bosId(), expected["bos_id"].get<int32_t>());
  EXPECT_EQ(tokenizer->eosId(), expected["eos_id"].get<int32_t>());
  EXPECT_EQ(tokenizer->data().unkId, expected["unk_id"].get<int32_t>());
  const auto &texts = expected["texts"];
  const auto &ids = expected["ids"];
  ASSERT_EQ(texts.size(), ids.size());
  ASSERT_GT(texts.size(), 0u);
  size_t exact = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    const std::vector<int32_t> want = ids[i].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = tokenizer->encode(text, /*addSpecial=*/false);
    EXPECT_EQ(got, want) << "text " << i << " '" << text << "'\n  got:  " << show(got)
                         << "\n  want: " << show(want);
    exact += got == want;
    // "▁" in the text decodes to a space, in the library too.
    if (roundTrip && text.find("\xE2\x96\x81") == std::string::npos) {
      EXPECT_EQ(tokenizer->decode(got), text) << "text " << i;
    }
  }
  EXPECT_EQ(exact, texts.size());
  // BOS as LLaMA's tokenizers add it.
  std::vector<int32_t> withBos = tokenizer->encode("Hello world");
  ASSERT_FALSE(withBos.empty());
  EXPECT_EQ(withBos[0], tokenizer->bosId());
}

TEST(SentencePieceModel, BpeWithByteFallbackMatchesSentencepiece) {
  checkModel(kFixtureDir + "/spm_bpe_bytefallback.model",
             expectations("spm_bpe_bytefallback.model"), /*roundTrip=*/true);
}

TEST(SentencePieceModel, UnigramMatchesSentencepiece) {
  // No byte fallback: unknown characters become one <unk> per run, so no round trip.
  checkModel(kFixtureDir + "/spm_unigram.model", expectations("spm_unigram.model"),
             /*roundTrip=*/false);
}

TEST(SentencePieceModel, UnigramWithByteFallbackMatchesSentencepiece) {
  checkModel(kFixtureDir + "/spm_unigram_bytefallback.model",
             expectations("spm_unigram_bytefallback.model"), /*roundTrip=*/true);
}

TEST(SentencePieceModel, ModelFieldsMapLikeGGUFLlama) {
  std::string error;
  tern::TokenizerData d;
  ASSERT_TRUE(tern::loadSentencePieceModelFile(kFixtureDir + "/spm_bpe_bytefallback.model", &d,
                                               &error))
      << error;
  EXPECT_EQ(d.model, tern::TokenizerModel::SentencePiece);
  ASSERT_EQ(d.tokens.size(), 600u);
  ASSERT_EQ(d.scores.size(), 600u);
  ASSERT_EQ(d.tokenTypes.size(), 600u);
  EXPECT_EQ(d.tokens[0], "<unk>");
  EXPECT_EQ(d.tokenTypes[0], static_cast<int32_t>(tern::TokenType::Unknown));
  EXPECT_EQ(d.tokens[1], "<s>");
  EXPECT_EQ(d.tokenTypes[1], static_cast<int32_t>(tern::TokenType::Control));
  EXPECT_EQ(d.tokens[3], "<mask>");
  EXPECT_EQ(d.tokenTypes[3], static_cast<int32_t>(tern::TokenType::UserDefined));
  EXPECT_EQ(d.tokens[4], "<0x00>");
  EXPECT_EQ(d.tokenTypes[4], static_cast<int32_t>(tern::TokenType::Byte));
  EXPECT_EQ(d.tokenTypes[260], static_cast<int32_t>(tern::TokenType::Normal));
  EXPECT_LT(d.scores[300], d.scores[260]); // BPE scores fall with the merge order
  EXPECT_EQ(d.bosId, 1);
  EXPECT_EQ(d.eosId, 2);
  EXPECT_EQ(d.unkId, 0);
  EXPECT_EQ(d.padId, tern::kNoToken);
  EXPECT_TRUE(d.addBos);
  EXPECT_FALSE(d.addEos);
  EXPECT_TRUE(d.addSpacePrefix);
  EXPECT_FALSE(d.prefixAfterSpecial);

  ASSERT_TRUE(tern::loadSentencePieceModelFile(kFixtureDir + "/spm_unigram.model", &d, &error))
      << error;
  EXPECT_EQ(d.model, tern::TokenizerModel::Unigram);
}

// LLaMA-2's tokenizer.model (32000 pieces) against sentencepiece's ids for the fixture texts and
// llama.cpp's LLaMA SentencePiece vector texts.
TEST(SentencePieceModel, Llama2MatchesSentencepiece) {
  const std::string path = kSharedDir + "/tokenizers/llama2_tokenizer.model";
  if (!std::ifstream(path))
    GTEST_SKIP() << path << " is not present";
  checkModel(path, expectations("shared:llama2_tokenizer.model"), /*roundTrip=*/false);
}

// The same vocabulary as ggml-vocab-llama-spm.gguf: both sources give the same ids.
TEST(SentencePieceModel, Llama2AgreesWithGGUFVocabulary) {
  const std::string path = kSharedDir + "/tokenizers/llama2_tokenizer.model";
  if (!std::ifstream(path))
    GTEST_SKIP() << path << " is not present";
  std::string error;
  std::unique_ptr<tern::Tokenizer> t = load(path, &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->vocabSize(), 32000);
  EXPECT_EQ(t->encode("Once upon a time"), (std::vector<int32_t>{1, 9038, 2501, 263, 931}));
  EXPECT_EQ(t->decode(t->encode("Hello world")), "Hello world");
}

// The library's test model uses the nfkc normalizer, which the runtime does not implement.
TEST(SentencePieceModel, RefusesNormalizerItCannotApply) {
  const std::string path = kSharedDir + "/tokenizers/sentencepiece_test_model.model";
  if (!std::ifstream(path))
    GTEST_SKIP() << path << " is not present";
  tern::TokenizerData d;
  std::string error;
  EXPECT_FALSE(tern::loadSentencePieceModelFile(path, &d, &error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("normalizer 'nfkc'"), std::string::npos) << error;
}

// Protobuf wire-format builders for hand-made models.
std::string varint(uint64_t v) {
  std::string s;
  do {
    s += static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return s;
}
std::string tag(uint32_t field, uint32_t wireType) { return varint(field << 3 | wireType); }
std::string bytesField(uint32_t field, const std::string &bytes) {
  return tag(field, 2) + varint(bytes.size()) + bytes;
}
std::string varintField(uint32_t field, uint64_t v) { return tag(field, 0) + varint(v); }
std::string piece(const std::string &text, float score, int type) {
  std::string score4(4, '\0');
  uint32_t bits;
  std::memcpy(&bits, &score, 4);
  for (int i = 0; i < 4; ++i)
    score4[i] = static_cast<char>(bits >> (8 * i));
  return bytesField(1, bytesField(1, text) + tag(2, 5) + score4 + varintField(3, type));
}

// A tiny valid BPE model: <unk>, <s>, </s>, then pieces; identity normalization.
std::string tinyModel(int modelType = 2, const std::string &extraTrainer = "",
                      const std::string &normalizer = varintField(4, 0)) {
  std::string m = piece("<unk>", 0, 2) + piece("<s>", 0, 3) + piece("</s>", 0, 3) +
                  piece("\xE2\x96\x81", -1, 1) + piece("a", -2, 1) + piece("b", -3, 1) +
                  piece("\xE2\x96\x81" "a", -4, 1) + piece("ab", -4.5f, 1);
  m += bytesField(2, varintField(3, static_cast<uint64_t>(modelType)) + extraTrainer);
  m += bytesField(3, bytesField(1, "identity") + normalizer);
  return m;
}

bool parse(const std::string &bytes, tern::TokenizerData *d, std::string *error) {
  return tern::tokenizerDataFromSentencePieceModel(bytes, "tiny.model", d, error);
}

TEST(SentencePieceModel, HandMadeModelsEncode) {
  tern::TokenizerData d;
  std::string error;
  ASSERT_TRUE(parse(tinyModel(), &d, &error)) << error;
  auto bpe = tern::Tokenizer::create(d, &error);
  ASSERT_TRUE(bpe) << error;
  // "▁ab": "▁a" (-4) merges before "ab" (-4.5).
  EXPECT_EQ(bpe->encode("ab", false), (std::vector<int32_t>{6, 5}));
  ASSERT_TRUE(parse(tinyModel(/*unigram*/ 1), &d, &error)) << error;
  auto unigram = tern::Tokenizer::create(d, &error);
  ASSERT_TRUE(unigram) << error;
  // Viterbi: "▁"+"ab" = -5.5 beats "▁"+"a"+"b" = -6 and "▁a"+"b" = -7; "cc" is one unknown run.
  EXPECT_EQ(unigram->encode("ab", false), (std::vector<int32_t>{3, 7}));
  EXPECT_EQ(unigram->encode("abcc", false), (std::vector<int32_t>{3, 7, 0}));
}

TEST(SentencePieceModel, RefusesModelTypesItCannotRun) {
  tern::TokenizerData d;
  std::string error;
  EXPECT_FALSE(parse(tinyModel(3), &d, &error));
  EXPECT_NE(error.find("tiny.model: model_type WORD is not supported"), std::string::npos)
      << error;
  EXPECT_FALSE(parse(tinyModel(4), &d, &error));
  EXPECT_NE(error.find("model_type CHAR"), std::string::npos) << error;
  EXPECT_FALSE(parse(tinyModel(9), &d, &error));
  EXPECT_NE(error.find("model_type 9 is unknown"), std::string::npos) << error;
}

TEST(SentencePieceModel, RefusesNormalizerSettingsItCannotApply) {
  tern::TokenizerData d;
  std::string error;
  // remove_extra_whitespaces defaults to true when the field is absent.
  EXPECT_FALSE(parse(tinyModel(2, "", ""), &d, &error));
  EXPECT_NE(error.find("remove_extra_whitespaces"), std::string::npos) << error;
  EXPECT_FALSE(parse(tinyModel(2, "", varintField(4, 0) + bytesField(2, "map")), &d, &error));
  EXPECT_NE(error.find("precompiled character map"), std::string::npos) << error;
  EXPECT_FALSE(parse(tinyModel(2, "", varintField(4, 0) + varintField(5, 0)), &d, &error));
  EXPECT_NE(error.find("escape_whitespaces"), std::string::npos) << error;
  EXPECT_FALSE(parse(tinyModel(2, varintField(24, 1)), &d, &error));
  EXPECT_NE(error.find("treat_whitespace_as_suffix"), std::string::npos) << error;
}

TEST(SentencePieceModel, RefusesBadSpecialIdsAndByteFallback) {
  tern::TokenizerData d;
  std::string error;
  EXPECT_FALSE(parse(tinyModel(2, varintField(41, 99)), &d, &error));
  EXPECT_NE(error.find("trainer_spec.bos_id 99 is outside the 8 pieces"), std::string::npos)
      << error;
  EXPECT_FALSE(parse(tinyModel(2, varintField(40, 4)), &d, &error));
  EXPECT_NE(error.find("unk_id does not name a piece of type UNKNOWN"), std::string::npos)
      << error;
  EXPECT_FALSE(parse(tinyModel(2, varintField(35, 1)), &d, &error));
  EXPECT_NE(error.find("0 byte pieces, expected 256"), std::string::npos) << error;
  // pad_id -1 is written as a 10-byte varint and means "none".
  ASSERT_TRUE(parse(tinyModel(2, varintField(43, static_cast<uint64_t>(-1))), &d, &error))
      << error;
  EXPECT_EQ(d.padId, tern::kNoToken);
}

TEST(SentencePieceModel, CorruptFilesNameTheOffset) {
  tern::TokenizerData d;
  std::string error;
  EXPECT_FALSE(parse("", &d, &error));
  EXPECT_NE(error.find("tiny.model: no pieces"), std::string::npos) << error;
  EXPECT_FALSE(parse("not a protobuf", &d, &error));
  EXPECT_NE(error.find("tiny.model: offset "), std::string::npos) << error;
  // A piece whose type is out of range; a piece with a wrong wire type; an empty piece.
  EXPECT_FALSE(parse(piece("x", 0, 9) + tinyModel(), &d, &error));
  EXPECT_NE(error.find("has type 9, expected 1..6"), std::string::npos) << error;
  EXPECT_FALSE(parse(bytesField(1, varintField(1, 5)) + tinyModel(), &d, &error));
  EXPECT_NE(error.find("offset 2: SentencePiece.piece (field 1) has wire type 0"),
            std::string::npos)
      << error;
  EXPECT_FALSE(parse(piece("", 0, 1) + tinyModel(), &d, &error));
  EXPECT_NE(error.find("offset 0: piece 0 is empty"), std::string::npos) << error;
  // A group (wire type 3) and an endless varint.
  EXPECT_FALSE(parse(tag(7, 3), &d, &error));
  EXPECT_NE(error.find("wire type 3"), std::string::npos) << error;
  EXPECT_FALSE(parse(std::string(12, '\xff'), &d, &error));
  EXPECT_NE(error.find("offset 0: a varint is longer than 10 bytes"), std::string::npos) << error;

  // Every truncation of a real model fails with a message naming the file, or (cut exactly
  // between top-level fields) still parses; none crashes.
  std::string bytes;
  ASSERT_TRUE(readFile(kFixtureDir + "/spm_unigram.model", &bytes));
  size_t failures = 0;
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    if (!parse(bytes.substr(0, cut), &d, &error)) {
      ++failures;
      EXPECT_EQ(error.compare(0, 11, "tiny.model:"), 0) << error;
    }
  }
  EXPECT_GT(failures, bytes.size() - 10);
  EXPECT_FALSE(parse(bytes.substr(0, 100), &d, &error));
  EXPECT_NE(error.find("remain"), std::string::npos) << error;
}

TEST(SentencePieceModel, MissingFileIsAnError) {
  tern::TokenizerData d;
  std::string error;
  EXPECT_FALSE(tern::loadSentencePieceModelFile(kFixtureDir + "/absent.model", &d, &error));
  EXPECT_NE(error.find("absent.model: cannot open"), std::string::npos) << error;
}

} // namespace
