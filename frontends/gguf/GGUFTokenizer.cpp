// The tokenizer a GGUF file carries: tokenizer.ggml.* arrays, special ids and the chat template.
#include "frontends/gguf/GGUFModelMapping.h"

#include "llvm/ADT/Twine.h"

namespace tern::fe {
namespace {

void problem(ModelDescription &m, Problem::Severity s, llvm::StringRef subject,
             const llvm::Twine &message) {
  m.problems.push_back({s, subject.str(), message.str()});
}

// An array of |want| elements, or nullptr (with a Problem when the key exists but is malformed).
const GGUFValue *arrayOf(const GGUFReader &r, ModelDescription &m, llvm::StringRef key,
                         GGUFValueType want) {
  const GGUFValue *v = r.find(key);
  if (!v)
    return nullptr;
  if (!v->isArray() || v->elementType != want) {
    problem(m, Problem::Error, key,
            "expected array[" + valueTypeName(want) + "], found " + typeText(*v));
    return nullptr;
  }
  return v;
}

} // namespace

void readGGUFTokenizer(const GGUFReader &r, ModelDescription &m) {
  TokenizerInfo &t = m.tokenizer;
  if (const GGUFValue *v = r.find("tokenizer.ggml.model")) {
    if (auto s = v->asString())
      t.model = s->str();
    else
      problem(m, Problem::Error, "tokenizer.ggml.model", "expected a string, found " + typeText(*v));
  }
  if (const GGUFValue *v = r.find("tokenizer.ggml.pre"); v && v->asString())
    t.pre = v->asString()->str();
  t.source = r.path();

  if (const GGUFValue *tokens = arrayOf(r, m, "tokenizer.ggml.tokens", GGUFValueType::String)) {
    t.tokens.reserve(tokens->strings.size());
    for (llvm::StringRef s : tokens->strings)
      t.tokens.push_back(s.str());
  }
  t.vocabSize = static_cast<int64_t>(t.tokens.size());

  if (const GGUFValue *scores = arrayOf(r, m, "tokenizer.ggml.scores", GGUFValueType::Float32)) {
    if (scores->count != t.tokens.size()) {
      problem(m, Problem::Error, "tokenizer.ggml.scores",
              "has " + llvm::Twine(scores->count) + " entries, but there are " +
                  llvm::Twine(t.tokens.size()) + " tokens");
    } else {
      t.scores.reserve(scores->count);
      for (uint64_t i = 0; i < scores->count; ++i)
        t.scores.push_back(static_cast<float>(*scores->numberAt(i)));
      t.hasScores = true;
    }
  }
  if (const GGUFValue *types = arrayOf(r, m, "tokenizer.ggml.token_type", GGUFValueType::Int32)) {
    if (types->count != t.tokens.size()) {
      problem(m, Problem::Error, "tokenizer.ggml.token_type",
              "has " + llvm::Twine(types->count) + " entries, but there are " +
                  llvm::Twine(t.tokens.size()) + " tokens");
    } else {
      t.tokenTypes.reserve(types->count);
      for (uint64_t i = 0; i < types->count; ++i)
        t.tokenTypes.push_back(static_cast<int32_t>(*types->intAt(i)));
      t.hasTokenTypes = true;
    }
  }
  if (const GGUFValue *merges = arrayOf(r, m, "tokenizer.ggml.merges", GGUFValueType::String)) {
    t.merges.reserve(merges->strings.size());
    for (llvm::StringRef s : merges->strings)
      t.merges.push_back(s.str());
  }
  t.numMerges = static_cast<int64_t>(t.merges.size());

  // llama.cpp spells the separator key "seperator"; -1 stored as uint32 means "none".
  const std::pair<const char *, std::optional<int64_t> *> ids[] = {
      {"tokenizer.ggml.bos_token_id", &t.bosId},
      {"tokenizer.ggml.eos_token_id", &t.eosId},
      {"tokenizer.ggml.unknown_token_id", &t.unkId},
      {"tokenizer.ggml.padding_token_id", &t.padId},
      {"tokenizer.ggml.seperator_token_id", &t.sepId},
  };
  for (const auto &[key, field] : ids) {
    const GGUFValue *v = r.find(key);
    if (!v)
      continue;
    std::optional<int64_t> id = v->asInt();
    if (!id || v->type == GGUFValueType::Bool) {
      problem(m, Problem::Warning, key, "expected a token id, found " + typeText(*v) + "; ignored");
      continue;
    }
    if (*id < 0 || (v->type == GGUFValueType::UInt32 && *id == 0xffffffff))
      continue;
    if (!t.tokens.empty() && *id >= t.vocabSize) {
      problem(m, Problem::Warning, key,
              "token id " + llvm::Twine(*id) + " is outside the vocabulary of " +
                  llvm::Twine(t.vocabSize) + " tokens; ignored");
      continue;
    }
    *field = *id;
  }
  for (const auto &[key, field] :
       {std::pair{"tokenizer.ggml.add_bos_token", &t.addBos},
        std::pair{"tokenizer.ggml.add_eos_token", &t.addEos}}) {
    if (const GGUFValue *v = r.find(key)) {
      if (auto b = v->asBool())
        *field = *b;
      else
        problem(m, Problem::Warning, key, "expected a bool, found " + typeText(*v) + "; ignored");
    }
  }
  if (const GGUFValue *v = r.find("tokenizer.chat_template")) {
    if (auto s = v->asString())
      t.chatTemplate = s->str();
    else
      problem(m, Problem::Warning, "tokenizer.chat_template",
              "expected a string, found " + typeText(*v) + "; ignored");
  }
}

} // namespace tern::fe
