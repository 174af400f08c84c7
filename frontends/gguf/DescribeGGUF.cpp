// describeGGUF: a GGUF file -> ModelDescription (metadata for printing, tensors, tokenizer, roles).
#include "frontends/common/ModelFormats.h"
#include "frontends/gguf/GGUFModelMapping.h"
#include "frontends/gguf/GGUFReader.h"

namespace tern::fe {

llvm::Expected<ModelDescription> describeGGUF(llvm::StringRef path) {
  auto reader = GGUFReader::open(path);
  if (!reader)
    return reader.takeError();
  const GGUFReader &r = **reader;

  ModelDescription model;
  model.format = "gguf";
  model.path = path.str();
  model.architecture = r.architecture().str();
  model.detail = "GGUF v" + std::to_string(r.version()) + ", alignment " +
                 std::to_string(r.alignment());
  // The header fields first, spelled as gguf-py's gguf-dump spells them.
  model.metadata.push_back({"GGUF.version", "uint32", std::to_string(r.version())});
  model.metadata.push_back({"GGUF.tensor_count", "uint64", std::to_string(r.tensorInfos().size())});
  model.metadata.push_back({"GGUF.kv_count", "uint64", std::to_string(r.metadata().size())});
  for (const auto &[key, value] : r.metadata())
    model.metadata.push_back({key, typeText(value), valueText(value)});

  model.tensors = r.records(); // before mapping: roles point into this vector
  readGGUFTokenizer(r, model);
  mapGGUFModel(r, model);
  model.storage = std::shared_ptr<const GGUFReader>(std::move(*reader));
  return model;
}

} // namespace tern::fe
