// Vocabulary names and the GGUF metadata -> TokenizerData rules (llama.cpp's defaults).
#include "tern/tokenizer/Tokenizer.h"

#include <algorithm>

namespace tern {

bool tokenizerModelFromName(const std::string &name, TokenizerModel *out) {
  if (name == "llama") {
    *out = TokenizerModel::SentencePiece;
    return true;
  }
  if (name == "gpt2") {
    *out = TokenizerModel::ByteLevelBPE;
    return true;
  }
  if (name == "unigram") {
    *out = TokenizerModel::Unigram;
    return true;
  }
  return false;
}

bool preTokenizerFromName(const std::string &name, PreTokenizer *out) {
  // The names llama.cpp maps to the same two regexes.
  static const char *const kLlama3[] = {"llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx",
                                        "smaug-bpe"};
  static const char *const kGPT2[] = {"gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais"};
  for (const char *n : kLlama3)
    if (name == n) {
      *out = PreTokenizer::Llama3;
      return true;
    }
  for (const char *n : kGPT2)
    if (name == n) {
      *out = PreTokenizer::GPT2;
      return true;
    }
  return false;
}

bool tokenizerDataFromGGUF(GGUFTokenizerFields f, TokenizerData *out, std::string *error) {
  auto fail = [&](const std::string &message) {
    if (error)
      *error = message;
    return false;
  };
  TokenizerData d;
  if (!tokenizerModelFromName(f.model, &d.model))
    return fail("tokenizer.ggml.model '" + f.model +
                "' is not supported (this runtime has 'llama', 'gpt2' and 'unigram')");
  if (f.tokens.empty())
    return fail("tokenizer.ggml.tokens is missing or empty");
  const int64_t n = static_cast<int64_t>(f.tokens.size());

  // llama.cpp's per-model defaults, before the file's own keys override them.
  int64_t bos = kNoToken, eos = kNoToken, unk = kNoToken;
  if (d.model != TokenizerModel::ByteLevelBPE) {
    d.pre = PreTokenizer::None;
    bos = 1, eos = 2, unk = 0;
    d.addBos = true;
    d.addSpacePrefix = true;
    // "unigram" only comes from tokenizer.model files: keep the sentencepiece library's rule.
    d.prefixAfterSpecial = d.model != TokenizerModel::Unigram;
  } else {
    if (!preTokenizerFromName(f.pre, &d.pre))
      return fail("tokenizer.ggml.pre '" + f.pre +
                  "' is not supported (this runtime has the gpt-2 and llama-bpe pre-tokenizers)");
    // llama.cpp defaults BOS/EOS to id 11 here, a leftover from one model; "none" is safer.
    d.addSpacePrefix = false;
    if (d.pre == PreTokenizer::Llama3) {
      d.ignoreMerges = true;
      d.addBos = true;
    }
    if (f.merges.empty())
      return fail("tokenizer.ggml.merges is missing: byte-level BPE needs its merge list");
  }
  // A default outside the vocabulary means "none"; an explicit id outside it is ignored.
  auto pick = [&](int64_t fallback, const std::optional<int64_t> &given) -> int32_t {
    int64_t id = fallback < n ? fallback : kNoToken;
    if (given && *given >= 0 && *given < n)
      id = *given;
    return static_cast<int32_t>(id);
  };
  d.bosId = pick(bos, f.bosId);
  d.eosId = pick(eos, f.eosId);
  d.unkId = pick(unk, f.unkId);
  d.padId = pick(kNoToken, f.padId);
  if (f.addBos)
    d.addBos = *f.addBos;
  if (f.addEos)
    d.addEos = *f.addEos;
  if (f.addSpacePrefix)
    d.addSpacePrefix = *f.addSpacePrefix;
  if (d.addBos && d.bosId == kNoToken)
    return fail("tokenizer.ggml.add_bos_token is true but there is no BOS token");
  if (d.addEos && d.eosId == kNoToken)
    return fail("tokenizer.ggml.add_eos_token is true but there is no EOS token");

  d.tokens = std::move(f.tokens);
  d.scores = std::move(f.scores);
  d.tokenTypes = std::move(f.tokenTypes);
  d.merges = std::move(f.merges);
  // llama.cpp names empty tokens so they stay unique and never match text.
  for (size_t i = 0; i < d.tokens.size(); ++i)
    if (d.tokens[i].empty())
      d.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";

  // Phi-3 GGUFs carry no strip flags; llama.cpp recognises the model by name and strips spaces
  // after its special tokens (keeping them after <unk>, <s> and <|endoftext|>).
  std::string name = f.modelName;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    d.stripFlags.assign(d.tokens.size(), 0);
    for (size_t i = 0; i < d.tokens.size(); ++i) {
      int32_t t = d.tokenTypes.empty() ? 1 : d.tokenTypes[i];
      const std::string &s = d.tokens[i];
      bool special = t == static_cast<int32_t>(TokenType::Control) ||
                     t == static_cast<int32_t>(TokenType::UserDefined) ||
                     t == static_cast<int32_t>(TokenType::Unknown);
      if ((special || s == "</s>") && s != "<unk>" && s != "<s>" && s != "<|endoftext|>")
        d.stripFlags[i] = kStripRight;
    }
  }
  *out = std::move(d);
  return true;
}

} // namespace tern
