// Hugging Face tokenizer.json (+ tokenizer_config.json) -> TokenizerData, for byte-level BPE.
#include "tern/tokenizer/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace tern {
namespace {

using nlohmann::json;

// The Split regex of a pre_tokenizer (possibly inside a Sequence), or "".
std::string splitPattern(const json &pre) {
  if (!pre.is_object())
    return std::string();
  auto type = pre.find("type");
  if (type != pre.end() && type->is_string() && *type == "Sequence") {
    auto list = pre.find("pretokenizers");
    if (list != pre.end() && list->is_array())
      for (const json &p : *list)
        if (std::string s = splitPattern(p); !s.empty())
          return s;
    return std::string();
  }
  if (type != pre.end() && type->is_string() && *type == "Split") {
    auto pattern = pre.find("pattern");
    if (pattern != pre.end() && pattern->is_object()) {
      auto regex = pattern->find("Regex");
      if (regex != pattern->end() && regex->is_string())
        return regex->get<std::string>();
    }
  }
  return std::string();
}

// True when a ByteLevel pre-tokenizer with its own (GPT-2) regex is present.
bool byteLevelWithRegex(const json &pre) {
  if (!pre.is_object())
    return false;
  auto type = pre.find("type");
  if (type == pre.end() || !type->is_string())
    return false;
  if (*type == "Sequence") {
    auto list = pre.find("pretokenizers");
    if (list != pre.end() && list->is_array())
      for (const json &p : *list)
        if (byteLevelWithRegex(p))
          return true;
    return false;
  }
  if (*type != "ByteLevel")
    return false;
  auto useRegex = pre.find("use_regex");
  return useRegex == pre.end() || (useRegex->is_boolean() && useRegex->get<bool>());
}

// |key| of |object| when it is a boolean, else false (json::value would abort on a wrong type
// in a build without exceptions).
bool flag(const json &object, const char *key) {
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

bool readFile(const std::string &path, std::string *out, std::string *error) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    if (error)
      *error = path + ": cannot open";
    return false;
  }
  out->clear();
  char buffer[65536];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, f)) > 0)
    out->append(buffer, got);
  bool ok = !std::ferror(f);
  std::fclose(f);
  if (!ok && error)
    *error = path + ": read error";
  return ok;
}

// A token named by tokenizer_config.json: a string, or {"content": ...} in older files.
std::string configTokenText(const json &config, const char *key) {
  auto it = config.find(key);
  if (it == config.end())
    return std::string();
  if (it->is_string())
    return it->get<std::string>();
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string())
      return content->get<std::string>();
  }
  return std::string();
}

} // namespace

bool tokenizerDataFromJson(const std::string &tokenizerJson, const std::string &configJson,
                           TokenizerData *out, std::string *error) {
  auto fail = [&](const std::string &message) {
    if (error)
      *error = "tokenizer.json: " + message;
    return false;
  };
  json root = json::parse(tokenizerJson, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object())
    return fail("not valid JSON");
  auto model = root.find("model");
  if (model == root.end() || !model->is_object())
    return fail("no \"model\" object");
  auto modelType = model->find("type");
  if (modelType == model->end() || !modelType->is_string() || *modelType != "BPE")
    return fail("model.type must be \"BPE\" (only byte-level BPE tokenizer.json is supported)");
  if (flag(*model, "byte_fallback"))
    return fail("model.byte_fallback is set: this is a SentencePiece-style BPE, which this "
                "loader does not read (use the GGUF vocabulary)");

  TokenizerData d;
  d.model = TokenizerModel::ByteLevelBPE;
  d.addSpacePrefix = false;
  const json pre = root.contains("pre_tokenizer") ? root["pre_tokenizer"] : json();
  std::string pattern = splitPattern(pre);
  if (pattern.find("\\p{N}{1,3}") != std::string::npos &&
      pattern.find("[^\\r\\n\\p{L}\\p{N}]?\\p{L}+") != std::string::npos) {
    d.pre = PreTokenizer::Llama3;
    d.addBos = true; // as llama.cpp sets for llama-bpe
  } else if (pattern.empty() && byteLevelWithRegex(pre)) {
    d.pre = PreTokenizer::GPT2;
  } else {
    return fail("pre_tokenizer is neither GPT-2's ByteLevel regex nor LLaMA-3's Split regex" +
                (pattern.empty() ? std::string() : " (found " + pattern + ")"));
  }
  d.ignoreMerges = flag(*model, "ignore_merges");

  auto vocab = model->find("vocab");
  if (vocab == model->end() || !vocab->is_object() || vocab->empty())
    return fail("model.vocab must be a non-empty object of token -> id");
  // Ids come from vocab and added_tokens together; gaps are an error, not a silent hole.
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<uint8_t> strip;
  auto place = [&](int64_t id, const std::string &text, TokenType type, uint8_t flags) {
    if (id < 0 || id > 0x7fffffff)
      return false;
    size_t i = static_cast<size_t>(id);
    if (i >= tokens.size()) {
      tokens.resize(i + 1);
      types.resize(i + 1, -1);
      strip.resize(i + 1, 0);
    }
    tokens[i] = text;
    types[i] = static_cast<int32_t>(type);
    strip[i] = flags;
    return true;
  };
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it.value().is_number_integer() || !place(it.value().get<int64_t>(), it.key(),
                                                  TokenType::Normal, 0))
      return fail("model.vocab entry '" + it.key() + "' has no valid id");
  }
  bool anyStrip = false;
  if (auto added = root.find("added_tokens"); added != root.end() && added->is_array()) {
    for (const json &a : *added) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string())
        return fail("added_tokens entries need an integer id and a string content");
      bool special = flag(a, "special");
      uint8_t flags = static_cast<uint8_t>((flag(a, "lstrip") ? kStripLeft : 0) |
                                           (flag(a, "rstrip") ? kStripRight : 0));
      anyStrip |= flags != 0;
      // As llama.cpp's converter: special added tokens are control tokens, the rest user-defined.
      if (!place(a["id"].get<int64_t>(), a["content"].get<std::string>(),
                 special ? TokenType::Control : TokenType::UserDefined, flags))
        return fail("added token '" + a["content"].get<std::string>() + "' has an invalid id");
    }
  }
  for (size_t i = 0; i < tokens.size(); ++i)
    if (types[i] < 0)
      return fail("no token has id " + std::to_string(i) + " (ids must be contiguous)");

  auto merges = model->find("merges");
  if (merges == model->end() || !merges->is_array())
    return fail("model.merges must be an array");
  d.merges.reserve(merges->size());
  for (const json &m : *merges) {
    // Older files write "a b"; newer ones ["a", "b"] (which allows spaces inside tokens).
    if (m.is_string()) {
      d.merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      d.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      return fail("model.merges entry " + std::to_string(d.merges.size()) +
                  " is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }

  // Special ids: tokenizer_config.json when given, else the usual names.
  auto idOf = [&](const std::string &text) -> int32_t {
    if (text.empty())
      return kNoToken;
    for (size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] == text)
        return static_cast<int32_t>(i);
    return kNoToken;
  };
  std::string bosText, eosText, unkText, padText;
  if (!configJson.empty()) {
    json config = json::parse(configJson, nullptr, /*allow_exceptions=*/false);
    if (config.is_discarded() || !config.is_object()) {
      if (error)
        *error = "tokenizer_config.json: not valid JSON";
      return false;
    }
    bosText = configTokenText(config, "bos_token");
    eosText = configTokenText(config, "eos_token");
    unkText = configTokenText(config, "unk_token");
    padText = configTokenText(config, "pad_token");
    if (auto add = config.find("add_bos_token"); add != config.end() && add->is_boolean())
      d.addBos = add->get<bool>();
    if (auto add = config.find("add_eos_token"); add != config.end() && add->is_boolean())
      d.addEos = add->get<bool>();
  }
  d.bosId = idOf(bosText);
  d.eosId = idOf(eosText);
  d.unkId = idOf(unkText);
  d.padId = idOf(padText);
  if (d.bosId == kNoToken)
    for (const char *name : {"<|begin_of_text|>", "<s>", "<|endoftext|>"})
      if ((d.bosId = idOf(name)) != kNoToken)
        break;
  if (d.eosId == kNoToken)
    for (const char *name : {"<|end_of_text|>", "</s>", "<|endoftext|>"})
      if ((d.eosId = idOf(name)) != kNoToken)
        break;
  if (d.addBos && d.bosId == kNoToken)
    d.addBos = false; // nothing to add: a GPT-2 style vocabulary without a BOS token
  if (d.addEos && d.eosId == kNoToken)
    return fail("add_eos_token is set but there is no EOS token");

  d.tokens = std::move(tokens);
  d.tokenTypes = std::move(types);
  if (anyStrip)
    d.stripFlags = std::move(strip);
  *out = std::move(d);
  return true;
}

bool loadTokenizerJsonFile(const std::string &path, const std::string &configPath,
                           TokenizerData *out, std::string *error) {
  std::string text, config;
  if (!readFile(path, &text, error))
    return false;
  if (!configPath.empty() && !readFile(configPath, &config, error))
    return false;
  if (!tokenizerDataFromJson(text, config, out, error)) {
    if (error)
      *error = path + ": " + *error;
    return false;
  }
  return true;
}

} // namespace tern
