// describeSafeTensors: a Hugging Face model directory (weights + config.json) -> ModelDescription.
#include "frontends/common/ModelFormats.h"
#include "frontends/safetensors/HFConfig.h"
#include "frontends/safetensors/HFModelMapping.h"
#include "frontends/safetensors/HFTokenizer.h"
#include "frontends/safetensors/SafeTensorsReader.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

namespace tern::fe {
namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

// The weights file to open and the directory that holds config.json.
llvm::Error locate(llvm::StringRef path, std::string &weights, std::string &dir) {
  if (llvm::sys::fs::is_directory(path)) {
    dir = path.str();
    for (llvm::StringRef name : {"model.safetensors.index.json", "model.safetensors"}) {
      llvm::SmallString<256> p(path);
      llvm::sys::path::append(p, name);
      if (llvm::sys::fs::exists(p)) {
        weights = std::string(p);
        return llvm::Error::success();
      }
    }
    return fail(path + ": no model.safetensors or model.safetensors.index.json in this "
                       "directory; expected a Hugging Face model directory");
  }
  if (!llvm::sys::fs::exists(path))
    return fail(path + ": no such file or directory");
  weights = path.str();
  llvm::SmallString<256> parent(path);
  llvm::sys::path::remove_filename(parent);
  dir = parent.empty() ? "." : std::string(parent);
  return llvm::Error::success();
}

} // namespace

llvm::Expected<ModelDescription> describeSafeTensors(llvm::StringRef path) {
  std::string weights, dir;
  if (llvm::Error err = locate(path, weights, dir))
    return std::move(err);
  auto reader = SafeTensorsReader::open(weights);
  if (!reader)
    return reader.takeError();

  llvm::SmallString<256> configPath(dir);
  llvm::sys::path::append(configPath, "config.json");
  if (!llvm::sys::fs::exists(configPath))
    return fail(configPath + ": no such file; a Hugging Face model needs config.json beside " +
                llvm::sys::path::filename(weights));
  llvm::Expected<llvm::json::Value> json = loadJSONFile(configPath);
  if (!json)
    return json.takeError();
  llvm::json::Object *root = json->getAsObject();
  if (!root)
    return fail(configPath + ": expected a JSON object at the top level");

  ModelDescription model;
  model.format = "safetensors";
  model.path = path.str();
  model.tensors = (*reader)->tensors(); // before mapping: roles point into this vector
  for (const auto &[key, value] : (*reader)->metadata())
    model.metadata.push_back({"safetensors." + key, "string", value});
  model.metadata.push_back({"safetensors.files", "int", std::to_string((*reader)->files().size())});
  llvm::append_range(model.metadata, flattenConfig(*root, "config"));

  HFConfig config(std::string(configPath), std::move(*root), model.problems);
  mapHFModel(config, model);
  if ((*reader)->files().size() > 1)
    model.detail += ", " + std::to_string((*reader)->files().size()) + " shards";
  if (llvm::Error err = readHFTokenizer(dir, model))
    return std::move(err);
  model.storage = std::shared_ptr<const SafeTensorsReader>(std::move(*reader));
  return model;
}

} // namespace tern::fe
