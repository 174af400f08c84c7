// TokenizerInfo (frontend side) -> TokenizerData (runtime side) -> Tokenizer.
#include "compiler/tokenizer/ModelTokenizer.h"

namespace tern {

llvm::Expected<std::unique_ptr<Tokenizer>> tokenizerForModel(const fe::ModelDescription &model) {
  const fe::TokenizerInfo &info = model.tokenizer;
  if (info.model.empty() || info.tokens.empty())
    return llvm::createStringError("%s: the model carries no tokenizer vocabulary",
                                   model.path.c_str());
  TokenizerData data;
  std::string error;
  if (model.format == "gguf") {
    GGUFTokenizerFields f;
    f.model = info.model;
    f.pre = info.pre;
    for (const fe::MetadataEntry &m : model.metadata)
      if (m.key == "general.name")
        f.modelName = m.value; // llama.cpp keys some special-token rules on the model name
    f.tokens = info.tokens;
    f.scores = info.scores;
    f.tokenTypes = info.tokenTypes;
    f.merges = info.merges;
    f.bosId = info.bosId;
    f.eosId = info.eosId;
    f.unkId = info.unkId;
    f.padId = info.padId;
    f.addBos = info.addBos;
    f.addEos = info.addEos;
    if (!tokenizerDataFromGGUF(std::move(f), &data, &error))
      return llvm::createStringError("%s: %s", model.path.c_str(), error.c_str());
  } else {
    std::string config = info.source;
    size_t slash = config.rfind('/');
    config = (slash == std::string::npos ? std::string() : config.substr(0, slash + 1)) +
             "tokenizer_config.json";
    if (!loadTokenizerJsonFile(info.source, config, &data, &error))
      return llvm::createStringError("%s: %s", info.source.c_str(), error.c_str());
  }
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::create(std::move(data), &error);
  if (!tokenizer)
    return llvm::createStringError("%s: %s", model.path.c_str(), error.c_str());
  return tokenizer;
}

} // namespace tern
