// Runtime tokenizers: SentencePiece BPE ("llama") and unigram, byte-level BPE (GPT-2, LLaMA-3).
#ifndef TERN_TOKENIZER_TOKENIZER_H
#define TERN_TOKENIZER_TOKENIZER_H

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tern {

// "No token" for special ids a vocabulary lacks (llama.cpp's LLAMA_TOKEN_NULL).
constexpr int32_t kNoToken = -1;

enum class TokenizerModel : uint8_t {
  SentencePiece, // GGUF "llama": score-driven merges over UTF-8 chars, "▁" for spaces, <0xXX> bytes
  ByteLevelBPE,  // GGUF "gpt2": ranked merges over GPT-2's byte-to-unicode alphabet
  Unigram,       // SentencePiece unigram ("unigram"): the most probable segmentation (Viterbi)
};

// How byte-level BPE splits text into words before merging (the tokenizer.json Split regex).
enum class PreTokenizer : uint8_t {
  None,   // SentencePiece: the whole fragment is one word
  GPT2,   // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Llama3, // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
};

// Token types with the values GGUF's tokenizer.ggml.token_type uses.
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,     // <s>, <|begin_of_text|>: matched in text only when the caller asks (parseSpecial)
  UserDefined = 4, // added tokens that are always matched in text before BPE
  Unused = 5,
  Byte = 6,        // SentencePiece byte fallback <0xXX>
};

// Everything a tokenizer needs, as plain vectors: what the artifact stores and what the GGUF and
// tokenizer.json loaders fill. Token ids are indices into |tokens|.
struct TokenizerData {
  TokenizerModel model = TokenizerModel::SentencePiece;
  PreTokenizer pre = PreTokenizer::None;
  std::vector<std::string> tokens;  // (n_vocab) token text bytes as the vocabulary spells them
  std::vector<float> scores;        // (n_vocab) SentencePiece merge scores; empty: all 0
  std::vector<int32_t> tokenTypes;  // (n_vocab) TokenType values; empty: all Normal
  std::vector<std::string> merges;  // (n_merges) "left right", rank = index; byte-level BPE only
  // (n_vocab) or empty: whitespace next to a matched special token that is dropped with it.
  std::vector<uint8_t> stripFlags;  // bit 0: lstrip (spaces before), bit 1: rstrip (spaces after)
  int32_t bosId = kNoToken, eosId = kNoToken, unkId = kNoToken, padId = kNoToken;
  bool addBos = false, addEos = false; // what encode(..., addSpecial = true) adds
  bool addSpacePrefix = true;          // SentencePiece: "▁" before text that starts a fragment
  // SentencePiece/unigram: the "▁" also goes before text after a special token (llama.cpp); false
  // puts it only at the start of the whole text, as the sentencepiece library does.
  bool prefixAfterSpecial = true;
  bool ignoreMerges = false;           // byte-level BPE: a word that is a token is taken whole (LLaMA-3)
};

constexpr uint8_t kStripLeft = 1, kStripRight = 2;

// Names as GGUF spells them (tokenizer.ggml.model: "llama", "gpt2", and "unigram" for SentencePiece
// unigram models read from tokenizer.model; tokenizer.ggml.pre: "default",
// "gpt-2", "llama-bpe", "llama3", ...). False for names this runtime does not implement.
bool tokenizerModelFromName(const std::string &name, TokenizerModel *out);
bool preTokenizerFromName(const std::string &name, PreTokenizer *out);

// The tokenizer.* metadata of a GGUF file, as the compiler's GGUF reader extracts it
// (frontends/common/ModelDescription.h TokenizerInfo); unset optionals take llama.cpp's defaults.
struct GGUFTokenizerFields {
  std::string model;     // tokenizer.ggml.model
  std::string pre;       // tokenizer.ggml.pre
  std::string modelName; // general.name: llama.cpp keys the Phi-3 special-token rstrip rule off it
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> tokenTypes;
  std::vector<std::string> merges;
  std::optional<int64_t> bosId, eosId, unkId, padId;
  std::optional<bool> addBos, addEos, addSpacePrefix;
};

// Builds TokenizerData the way llama.cpp's vocabulary loader reads the same metadata.
bool tokenizerDataFromGGUF(GGUFTokenizerFields fields, TokenizerData *out, std::string *error);

// Hugging Face tokenizers' tokenizer.json (byte-level BPE models: GPT-2 and LLaMA-3 style
// pre-tokenizers). |configJson| is the optional tokenizer_config.json text (bos/eos, add_bos_token);
// pass "" when there is none. Parsing never throws; failures come back in |error|.
bool tokenizerDataFromJson(const std::string &tokenizerJson, const std::string &configJson,
                           TokenizerData *out, std::string *error);
// Reads |path| (and |configPath| unless empty) and calls tokenizerDataFromJson.
bool loadTokenizerJsonFile(const std::string &path, const std::string &configPath,
                           TokenizerData *out, std::string *error);

// SentencePiece's tokenizer.model (a serialized ModelProto), read without a protobuf library: BPE
// models become SentencePiece, unigram models Unigram, with the library's own encoding rules
// (prefixAfterSpecial = false; BOS added, as LLaMA's tokenizers do). Models this runtime cannot
// run exactly (WORD/CHAR, a normalization rule other than identity, whitespace collapsing) are
// refused naming the setting. |name| labels errors, which give the byte offset of a bad field.
bool tokenizerDataFromSentencePieceModel(const std::string &bytes, const std::string &name,
                                         TokenizerData *out, std::string *error);
bool loadSentencePieceModelFile(const std::string &path, TokenizerData *out, std::string *error);

// Text <-> token ids. Immutable after creation: any number of threads may call encode/decode.
// One class for both models (no virtual dispatch: the runtime is built without RTTI, and a
// vtable shared with code that has RTTI trips sanitizers); the model picks the code path.
class Tokenizer final {
public:
  // Checks |data| (sizes agree, ids in range, merges parse) and builds the lookup tables.
  static std::unique_ptr<Tokenizer> create(TokenizerData data, std::string *error);

  // |addSpecial| adds BOS/EOS as the vocabulary says (addBos/addEos). |parseSpecial| also matches
  // control tokens written in the text ("<|eot_id|>"); user-defined tokens always match, as in
  // llama.cpp and Hugging Face tokenizers.
  std::vector<int32_t> encode(const std::string &text, bool addSpecial = true,
                              bool parseSpecial = false) const;

  // Concatenated pieces. Control/unknown tokens render only with |renderSpecial|. SentencePiece
  // drops the one space its dummy prefix added in front of the first text, so
  // decode(encode(text)) == text for any text that does not start with a user-defined token.
  std::string decode(const std::vector<int32_t> &ids, bool renderSpecial = false) const;

  // The bytes one token stands for (no prefix stripping); may be part of a UTF-8 character.
  std::string tokenPiece(int32_t id, bool renderSpecial = false) const;

  int32_t vocabSize() const { return static_cast<int32_t>(data_.tokens.size()); }
  int32_t bosId() const { return data_.bosId; }
  int32_t eosId() const { return data_.eosId; }
  TokenType tokenType(int32_t id) const;
  const std::string &tokenText(int32_t id) const { return data_.tokens[static_cast<size_t>(id)]; }
  int32_t tokenId(const std::string &text) const; // kNoToken when |text| is not a token
  const TokenizerData &data() const { return data_; }

private:
  explicit Tokenizer(TokenizerData data) : data_(std::move(data)) {}
  bool init(std::string *error);
  bool initSentencePiece(std::string *error); // SentencePiece.cpp
  bool initByteLevel(std::string *error);     // ByteLevelBPE.cpp
  bool initUnigram(std::string *error);       // Unigram.cpp
  // Tokenizes one stretch of text that holds no special token. |afterSpecial| is true at the start
  // and after a special token (SentencePiece adds its dummy-prefix space there).
  void encodeSentencePiece(const std::string &text, bool afterSpecial,
                           std::vector<int32_t> *out) const;
  void encodeByteLevel(const std::string &text, std::vector<int32_t> *out) const;
  void encodeUnigram(const std::string &text, bool afterSpecial, std::vector<int32_t> *out) const;
  void encodeByteLevelWord(const std::string &word, std::vector<int32_t> *out) const;
  std::string normalPiece(const std::string &tokenText) const;    // SentencePiece.cpp
  std::string byteLevelPiece(const std::string &tokenText) const; // ByteLevelBPE.cpp

  TokenizerData data_;
  std::unordered_map<std::string, int32_t> tokenToId_;
  std::vector<int32_t> specialTokens_; // control/user-defined/unknown ids, longest text first
  // SentencePiece: byte -> <0xXX> token (else the 1-byte token, else unk).
  std::array<int32_t, 256> byteTokens_{};
  // Unigram: score bounds over normal pieces (sentencepiece's min_score_/max_score_), the longest
  // piece in bytes, and whether every byte has a <0xXX> token (unknown characters become bytes).
  float unigramMinScore_ = 0, unigramMaxScore_ = 0;
  size_t unigramMaxPieceBytes_ = 0;
  bool byteFallback_ = false;
  // Byte-level BPE.
  std::unordered_map<std::string, int32_t> mergeRank_; // "left right" -> rank
  std::array<std::string, 256> byteToUnicode_;         // byte -> UTF-8 of its GPT-2 stand-in
  std::unordered_map<uint32_t, uint8_t> unicodeToByte_;
};

// Turns generated ids into text as they arrive: holds back an incomplete UTF-8 character until
// its last byte comes. |atStart| drops SentencePiece's dummy-prefix space from the first piece.
class TokenStreamDecoder {
public:
  TokenStreamDecoder(const Tokenizer &tokenizer, bool atStart, bool renderSpecial = false);
  std::string push(int32_t id); // complete UTF-8 text available after |id|
  std::string finish();         // whatever is held back (an incomplete character), then reset

private:
  const Tokenizer &tokenizer_;
  bool stripPending_;
  bool renderSpecial_;
  std::string pending_; // bytes of a UTF-8 character still missing continuation bytes
};

} // namespace tern

#endif
