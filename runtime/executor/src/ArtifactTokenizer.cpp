// The artifact's Tokenizer table -> TokenizerData, through the GGUF field rules.
#include "tern/executor/ArtifactTokenizer.h"

namespace tern {
namespace {

// FlatBuffers optional scalars -> std::optional: absent stays absent.
template <typename T> void copyOptional(const flatbuffers::Optional<T> &value, std::optional<T> *out) {
  if (value.has_value())
    *out = value.value();
}

} // namespace

bool tokenizerDataFromArtifact(const schema::Tokenizer &table, TokenizerData *out,
                               std::string *error) {
  GGUFTokenizerFields fields;
  fields.model = table.model() ? table.model()->str() : "";
  fields.pre = table.pre() ? table.pre()->str() : "";
  if (const auto *tokens = table.tokens()) {
    fields.tokens.reserve(tokens->size());
    for (const flatbuffers::String *token : *tokens)
      fields.tokens.push_back(token ? token->str() : std::string());
  }
  if (const auto *scores = table.scores())
    fields.scores.assign(scores->begin(), scores->end());
  if (const auto *types = table.token_types())
    fields.tokenTypes.assign(types->begin(), types->end());
  if (const auto *merges = table.merges()) {
    fields.merges.reserve(merges->size());
    for (const flatbuffers::String *merge : *merges)
      fields.merges.push_back(merge ? merge->str() : std::string());
  }
  if (!fields.scores.empty() && fields.scores.size() != fields.tokens.size()) {
    if (error)
      *error = "tokenizer: field scores has " + std::to_string(fields.scores.size()) +
               " entries, expected one per token (" + std::to_string(fields.tokens.size()) + ")";
    return false;
  }
  if (!fields.tokenTypes.empty() && fields.tokenTypes.size() != fields.tokens.size()) {
    if (error)
      *error = "tokenizer: field token_types has " + std::to_string(fields.tokenTypes.size()) +
               " entries, expected one per token (" + std::to_string(fields.tokens.size()) + ")";
    return false;
  }
  copyOptional(table.bos_id(), &fields.bosId);
  copyOptional(table.eos_id(), &fields.eosId);
  copyOptional(table.unk_id(), &fields.unkId);
  copyOptional(table.pad_id(), &fields.padId);
  copyOptional(table.add_bos(), &fields.addBos);
  copyOptional(table.add_eos(), &fields.addEos);
  std::string detail;
  if (!tokenizerDataFromGGUF(std::move(fields), out, &detail)) {
    if (error)
      *error = "tokenizer: " + detail;
    return false;
  }
  return true;
}

} // namespace tern
