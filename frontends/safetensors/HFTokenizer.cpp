// Hugging Face `tokenizers` files (or a SentencePiece tokenizer.model) -> TokenizerInfo:
// vocabulary, merges, special tokens, template.
#include "frontends/safetensors/HFTokenizer.h"

#include "frontends/safetensors/HFConfig.h"
#include "tern/tokenizer/Tokenizer.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

namespace tern::fe {
namespace {

// llama.cpp's token types, which the runtime shares: normal, control, user-defined.
constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4;

std::string join(llvm::StringRef dir, llvm::StringRef name) {
  llvm::SmallString<256> p(dir);
  llvm::sys::path::append(p, name);
  return std::string(p);
}

llvm::StringRef typeOf(const llvm::json::Value *v) {
  const llvm::json::Object *o = v ? v->getAsObject() : nullptr;
  std::optional<llvm::StringRef> t = o ? o->getString("type") : std::nullopt;
  return t ? *t : llvm::StringRef();
}

// True when |v| or one step of a Sequence is of |type|.
bool hasStep(const llvm::json::Value *v, llvm::StringRef type) {
  if (typeOf(v) == type)
    return true;
  const llvm::json::Object *o = v ? v->getAsObject() : nullptr;
  if (const llvm::json::Array *steps = o ? o->getArray("pretokenizers") : nullptr)
    for (const llvm::json::Value &s : *steps)
      if (typeOf(&s) == type)
        return true;
  if (const llvm::json::Array *steps = o ? o->getArray("decoders") : nullptr)
    for (const llvm::json::Value &s : *steps)
      if (typeOf(&s) == type)
        return true;
  return false;
}

// tokenizer_config.json spells special tokens as a string or {"content": ...}.
std::optional<std::string> tokenText(const llvm::json::Value *v) {
  if (!v)
    return std::nullopt;
  if (auto s = v->getAsString())
    return s->str();
  if (const llvm::json::Object *o = v->getAsObject())
    if (auto s = o->getString("content"))
      return s->str();
  return std::nullopt;
}

// tokenizer_config.json (special tokens by text, add_bos/eos, the chat template) and
// chat_template.jinja, over the vocabulary already in |model.tokenizer|.
llvm::Error readTokenizerConfig(llvm::StringRef dir, ModelDescription &model) {
  TokenizerInfo &t = model.tokenizer;
  auto idOf = [&](const std::string &text) -> std::optional<int64_t> {
    for (size_t i = 0; i < t.tokens.size(); ++i)
      if (t.tokens[i] == text)
        return static_cast<int64_t>(i);
    return std::nullopt;
  };
  // tokenizer_config.json: special tokens by text, add_bos/eos, and the chat template.
  const std::string configPath = join(dir, "tokenizer_config.json");
  if (llvm::sys::fs::exists(configPath)) {
    llvm::Expected<llvm::json::Value> cj = loadJSONFile(configPath);
    if (!cj)
      return cj.takeError();
    if (const llvm::json::Object *c = cj->getAsObject()) {
      auto special = [&](llvm::StringRef key, std::optional<int64_t> &field) {
        if (auto text = tokenText(c->get(key))) {
          if (auto id = idOf(*text))
            field = id;
          else
            model.problems.push_back({Problem::Warning, key.str(),
                                      configPath + ": '" + *text + "' is not in the vocabulary"});
        }
      };
      special("bos_token", t.bosId);
      special("eos_token", t.eosId);
      special("unk_token", t.unkId);
      special("pad_token", t.padId);
      if (auto b = c->getBoolean("add_bos_token"))
        t.addBos = b;
      if (auto b = c->getBoolean("add_eos_token"))
        t.addEos = b;
      if (auto s = c->getString("chat_template")) {
        t.chatTemplate = s->str();
      } else if (const llvm::json::Array *list = c->getArray("chat_template")) {
        // Several named templates: the runtime's `chat` uses the default one.
        for (const llvm::json::Value &e : *list)
          if (const llvm::json::Object *o = e.getAsObject())
            if (o->getString("name").value_or("") == "default")
              t.chatTemplate = o->getString("template").value_or("").str();
      }
    }
  }
  // transformers >= 4.43 may save the template as its own file.
  const std::string jinja = join(dir, "chat_template.jinja");
  if (t.chatTemplate.empty() && llvm::sys::fs::exists(jinja))
    if (auto text = llvm::MemoryBuffer::getFile(jinja, /*IsText=*/true))
      t.chatTemplate = (*text)->getBuffer().str();
  return llvm::Error::success();
}

// A SentencePiece tokenizer.model (LLaMA-2-style checkpoints without tokenizer.json), read by the
// runtime's own reader so the compiler and runtime agree on what it holds. One the runtime cannot
// run is a Warning (token ids only), like an unsupported tokenizer.json model.
llvm::Error readSentencePieceModel(llvm::StringRef dir, const std::string &path,
                                   ModelDescription &model) {
  TokenizerInfo &t = model.tokenizer;
  TokenizerData data;
  std::string error;
  if (!loadSentencePieceModelFile(path, &data, &error)) {
    t.model.clear();
    model.problems.push_back({Problem::Warning, "tokenizer.model", error + ": token ids only"});
    return llvm::Error::success();
  }
  t.model = data.model == TokenizerModel::Unigram ? "unigram" : "llama";
  t.pre.clear();
  t.source = path;
  t.vocabSize = static_cast<int64_t>(data.tokens.size());
  t.tokens = std::move(data.tokens);
  t.scores = std::move(data.scores);
  t.tokenTypes = std::move(data.tokenTypes);
  t.hasScores = t.hasTokenTypes = true;
  auto id = [](int32_t v) { return v == kNoToken ? std::nullopt : std::optional<int64_t>(v); };
  t.bosId = id(data.bosId);
  t.eosId = id(data.eosId);
  t.unkId = id(data.unkId);
  t.padId = id(data.padId);
  t.addBos = data.addBos;
  t.addEos = data.addEos;
  if (model.hparams.vocabSize > 0 && t.vocabSize > model.hparams.vocabSize)
    model.problems.push_back({Problem::Warning, "tokenizer.model",
                              path + ": has " + std::to_string(t.vocabSize) +
                                  " tokens but the model's vocab_size is " +
                                  std::to_string(model.hparams.vocabSize)});
  return readTokenizerConfig(dir, model);
}

} // namespace

llvm::Error readHFTokenizer(llvm::StringRef dir, ModelDescription &model) {
  TokenizerInfo &t = model.tokenizer;
  const std::string path = join(dir, "tokenizer.json");
  if (!llvm::sys::fs::exists(path)) {
    if (const std::string spm = join(dir, "tokenizer.model"); llvm::sys::fs::exists(spm))
      return readSentencePieceModel(dir, spm, model);
    t.model.clear();
    model.problems.push_back(
        {Problem::Warning, "tokenizer.json", "no tokenizer.json: token ids only"});
    return llvm::Error::success();
  }
  llvm::Expected<llvm::json::Value> json = loadJSONFile(path);
  if (!json)
    return json.takeError();
  const llvm::json::Object *root = json->getAsObject();
  const llvm::json::Object *m = root ? root->getObject("model") : nullptr;
  if (!m)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": missing object 'model'");
  t.source = path;
  auto warn = [&](const llvm::Twine &msg) {
    model.problems.push_back({Problem::Warning, "tokenizer.json", (path + ": " + msg).str()});
  };

  llvm::StringRef type = m->getString("type").value_or("");
  const llvm::json::Value *pre = root->get("pre_tokenizer");
  const bool byteLevel = hasStep(pre, "ByteLevel") || hasStep(root->get("decoder"), "ByteLevel");
  std::vector<std::pair<std::string, int64_t>> entries;
  if (type == "BPE") {
    if (byteLevel)
      t.model = "gpt2";
    else if (m->getBoolean("byte_fallback").value_or(false))
      t.model = "llama"; // SentencePiece-style BPE (LLaMA-2's tokenizer.json)
    if (const llvm::json::Object *vocab = m->getObject("vocab"))
      for (const auto &[token, id] : *vocab)
        if (auto n = id.getAsInteger())
          entries.emplace_back(token.str(), *n);
    if (const llvm::json::Array *merges = m->getArray("merges"))
      for (const llvm::json::Value &mg : *merges) {
        // Older files write "a b"; newer ones ["a", "b"].
        if (auto s = mg.getAsString())
          t.merges.push_back(s->str());
        else if (const llvm::json::Array *pair = mg.getAsArray(); pair && pair->size() == 2)
          t.merges.push_back((*pair)[0].getAsString().value_or("").str() + " " +
                             (*pair)[1].getAsString().value_or("").str());
      }
  } else if (type == "Unigram") {
    t.model = "llama";
    t.hasScores = true;
    if (const llvm::json::Array *vocab = m->getArray("vocab"))
      for (const llvm::json::Value &e : *vocab)
        if (const llvm::json::Array *pair = e.getAsArray(); pair && pair->size() == 2) {
          entries.emplace_back((*pair)[0].getAsString().value_or("").str(),
                               static_cast<int64_t>(entries.size()));
          t.scores.push_back(static_cast<float>((*pair)[1].getAsNumber().value_or(0.0)));
        }
  }
  if (t.model.empty())
    warn("tokenizer model '" + type + "'" +
         (type == "BPE" ? " without byte-level or byte fallback" : "") +
         " is not supported by the runtime: token ids only");
  t.numMerges = static_cast<int64_t>(t.merges.size());
  if (pre && byteLevel) {
    std::string text;
    llvm::raw_string_ostream(text) << *pre;
    // LLaMA-3's split regex starts with the case-insensitive contraction group.
    t.pre = llvm::StringRef(text).contains("(?i:'s|'t|'re|'ve|'m|'ll|'d)") ? "llama-bpe" : "gpt2";
  }

  struct Added {
    std::string text;
    int64_t id;
    bool special;
  };
  std::vector<Added> added;
  if (const llvm::json::Array *a = root->getArray("added_tokens"))
    for (const llvm::json::Value &e : *a)
      if (const llvm::json::Object *o = e.getAsObject())
        if (auto id = o->getInteger("id"))
          added.push_back({o->getString("content").value_or("").str(), *id,
                           o->getBoolean("special").value_or(false)});

  int64_t size = 0;
  for (auto &[text, id] : entries)
    size = std::max(size, id + 1);
  for (const Added &a : added)
    size = std::max(size, a.id + 1);
  // Ids index these arrays: refuse absurd ids instead of allocating for them.
  if (size > (int64_t(1) << 24))
    return llvm::createStringError(llvm::inconvertibleErrorCode(), path + ": token id " +
                                                                       llvm::Twine(size - 1) +
                                                                       " is out of range");
  t.tokens.assign(size, "");
  t.tokenTypes.assign(size, kNormal);
  t.hasTokenTypes = true;
  if (t.hasScores)
    t.scores.resize(size, 0.0f);
  for (auto &[text, id] : entries)
    if (id >= 0)
      t.tokens[id] = text;
  for (const Added &a : added)
    if (a.id >= 0) {
      t.tokens[a.id] = a.text;
      t.tokenTypes[a.id] = a.special ? kControl : kUserDefined;
    }
  t.vocabSize = size;
  if (model.hparams.vocabSize > 0 && size > model.hparams.vocabSize)
    warn("has " + llvm::Twine(size) + " tokens but the model's vocab_size is " +
         llvm::Twine(model.hparams.vocabSize));

  auto idOf = [&](const std::string &text) -> std::optional<int64_t> {
    for (size_t i = 0; i < t.tokens.size(); ++i)
      if (t.tokens[i] == text)
        return static_cast<int64_t>(i);
    return std::nullopt;
  };
  if (auto unk = m->getString("unk_token"))
    t.unkId = idOf(unk->str());

  return readTokenizerConfig(dir, model);
}

} // namespace tern::fe
