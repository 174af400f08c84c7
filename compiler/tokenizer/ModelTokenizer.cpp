// Model and tokenizer files -> TokenizerData (runtime side) -> Tokenizer.
#include "compiler/tokenizer/ModelTokenizer.h"

#include "frontends/common/ModelFormats.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#ifdef TERN_HAVE_ARTIFACT_TOKENIZER
#include "tern/artifact/Artifact.h"
#include "tern/executor/ArtifactTokenizer.h"
#endif

namespace tern {
namespace {

llvm::Error failure(llvm::StringRef path, const std::string &message) {
  return llvm::createStringError("%s: %s", path.str().c_str(), message.c_str());
}

llvm::Expected<std::unique_ptr<Tokenizer>> create(llvm::StringRef path, TokenizerData data) {
  std::string error;
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::create(std::move(data), &error);
  if (!tokenizer)
    return failure(path, error);
  return tokenizer;
}

std::string siblingPath(llvm::StringRef file, llvm::StringRef name) {
  llvm::SmallString<256> p(llvm::sys::path::parent_path(file));
  llvm::sys::path::append(p, name);
  return std::string(p);
}

// Hugging Face keeps add_bos_token/add_eos_token in tokenizer_config.json, beside a
// tokenizer.model that has no such flags; a missing config keeps the model's defaults.
llvm::Error applyConfigFlags(const std::string &configPath, TokenizerData *data) {
  if (!llvm::sys::fs::exists(configPath))
    return llvm::Error::success();
  auto buffer = llvm::MemoryBuffer::getFile(configPath, /*IsText=*/true);
  if (!buffer)
    return failure(configPath, "cannot read: " + buffer.getError().message());
  llvm::Expected<llvm::json::Value> json = llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return failure(configPath, "not valid JSON: " + llvm::toString(json.takeError()));
  const llvm::json::Object *config = json->getAsObject();
  if (!config)
    return failure(configPath, "expected a JSON object");
  if (auto addBos = config->getBoolean("add_bos_token"))
    data->addBos = *addBos && data->bosId != kNoToken;
  if (auto addEos = config->getBoolean("add_eos_token"))
    data->addEos = *addEos && data->eosId != kNoToken;
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<Tokenizer>> fromSentencePieceModel(llvm::StringRef path,
                                                                  const std::string &configPath) {
  TokenizerData data;
  std::string error;
  if (!loadSentencePieceModelFile(path.str(), &data, &error))
    return llvm::createStringError("%s", error.c_str()); // the message names the file
  if (llvm::Error err = applyConfigFlags(configPath, &data))
    return std::move(err);
  return create(path, std::move(data));
}

llvm::Expected<std::unique_ptr<Tokenizer>> fromTokenizerJson(llvm::StringRef path,
                                                             std::string configPath) {
  if (!llvm::sys::fs::exists(configPath))
    configPath.clear();
  TokenizerData data;
  std::string error;
  if (!loadTokenizerJsonFile(path.str(), configPath, &data, &error))
    return failure(path, error);
  return create(path, std::move(data));
}

// LLaMA-2-style directories hold a SentencePiece tokenizer.json, which the runtime refuses, next
// to the tokenizer.model it was converted from: then the latter is read.
llvm::Expected<std::unique_ptr<Tokenizer>> fromTokenizerJsonOrModel(llvm::StringRef path,
                                                                    const std::string &config) {
  llvm::Expected<std::unique_ptr<Tokenizer>> fromJson = fromTokenizerJson(path, config);
  const std::string model = siblingPath(path, "tokenizer.model");
  if (fromJson || llvm::sys::path::filename(path) != "tokenizer.json" ||
      !llvm::sys::fs::exists(model))
    return fromJson;
  llvm::Expected<std::unique_ptr<Tokenizer>> fromModel = fromSentencePieceModel(model, config);
  if (fromModel) {
    llvm::consumeError(fromJson.takeError());
    return fromModel;
  }
  return llvm::joinErrors(fromJson.takeError(), fromModel.takeError());
}

llvm::Expected<std::unique_ptr<Tokenizer>> fromArtifact(llvm::StringRef path) {
#ifdef TERN_HAVE_ARTIFACT_TOKENIZER
  tern_status_t status = nullptr;
  ArtifactOpenOptions options;
  options.checkHostCpu = false; // only the tokenizer is read; no kernel runs here
  std::unique_ptr<Artifact> artifact = Artifact::open(path.str().c_str(), &status, options);
  if (!artifact) {
    std::string message = tern_status_message(status);
    tern_status_free(status);
    return llvm::createStringError("%s", message.c_str());
  }
  if (!artifact->tokenizer())
    return failure(path, "the artifact carries no tokenizer");
  TokenizerData data;
  std::string error;
  if (!tokenizerDataFromArtifact(*artifact->tokenizer(), &data, &error))
    return failure(path, error);
  return create(path, std::move(data));
#else
  return failure(path, "this ternc was built without the executor library that reads an "
                       "artifact's tokenizer");
#endif
}

} // namespace

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
    return create(model.path, std::move(data));
  }
  // Hugging Face directories: read the tokenizer file itself, which keeps settings (such as the
  // sentencepiece normalizer's) that TokenizerInfo has no field for.
  const std::string config = siblingPath(info.source, "tokenizer_config.json");
  if (llvm::StringRef(info.source).ends_with(".model"))
    return fromSentencePieceModel(info.source, config);
  return fromTokenizerJsonOrModel(info.source, config);
}

llvm::Expected<std::unique_ptr<Tokenizer>> tokenizerForFile(llvm::StringRef path) {
  if (llvm::sys::fs::is_directory(path)) {
    llvm::SmallString<256> json(path), model(path), config(path);
    llvm::sys::path::append(json, "tokenizer.json");
    llvm::sys::path::append(model, "tokenizer.model");
    llvm::sys::path::append(config, "tokenizer_config.json");
    if (llvm::sys::fs::exists(json))
      return fromTokenizerJsonOrModel(json, std::string(config));
    if (llvm::sys::fs::exists(model))
      return fromSentencePieceModel(model, std::string(config));
    return failure(path, "the model carries no tokenizer vocabulary (no tokenizer.json or "
                         "tokenizer.model in the directory)");
  }
  if (!llvm::sys::fs::exists(path))
    return failure(path, "no such file or directory");
  if (path.ends_with(".tern"))
    return fromArtifact(path);
  if (path.ends_with(".model"))
    return fromSentencePieceModel(path, siblingPath(path, "tokenizer_config.json"));
  if (path.ends_with(".json") && !path.ends_with(".index.json"))
    // "x_tokenizer.json" pairs with "x_tokenizer_config.json" (special-token flags), if present.
    return fromTokenizerJson(path, path.drop_back(strlen(".json")).str() + "_config.json");
  llvm::Expected<fe::ModelDescription> model = fe::describeModel(path);
  if (!model)
    return model.takeError();
  return tokenizerForModel(*model);
}

} // namespace tern
