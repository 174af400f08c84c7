// Prints what the SafeTensors frontend sees in a file or model directory, for cross_check.py.
#include "frontends/common/ModelFormats.h"
#include "frontends/common/TensorDecode.h"
#include "frontends/safetensors/SafeTensorsReader.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace tern::fe;

namespace {

std::string sha256(llvm::ArrayRef<uint8_t> bytes) {
  auto digest = llvm::SHA256::hash(bytes);
  return llvm::toHex(digest, /*LowerCase=*/true);
}

std::string dims(const std::vector<int64_t> &shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ',';
    s += std::to_string(shape[i]);
  }
  return s;
}

int fail(llvm::Error err) {
  llvm::errs() << "error: " << llvm::toString(std::move(err)) << "\n";
  return 1;
}

} // namespace

// safetensors-dump FILE            tensors of one .safetensors / index.json
// safetensors-dump --describe DIR  tensors, unpacked ternary weights and hyperparameters
int main(int argc, char **argv) {
  if (argc == 2) {
    auto reader = SafeTensorsReader::open(argv[1]);
    if (!reader)
      return fail(reader.takeError());
    for (const TensorRecord &t : (*reader)->tensors())
      llvm::outs() << "tensor\t" << t.name << "\t" << safeTensorsDTypeName(t.dtype) << "\t"
                   << dims(t.shape) << "\t" << t.byteSize << "\t"
                   << sha256(llvm::ArrayRef(t.data, t.byteSize)) << "\n";
    return 0;
  }
  if (argc != 3 || std::strcmp(argv[1], "--describe") != 0) {
    llvm::errs() << "usage: safetensors-dump FILE | --describe MODEL_DIR\n";
    return 2;
  }
  auto model = describeSafeTensors(argv[2]);
  if (!model)
    return fail(model.takeError());
  const Hyperparameters &h = model->hparams;
  llvm::outs() << "hparam\thidden_size\t" << h.hiddenSize << "\n"
               << "hparam\tintermediate_size\t" << h.ffnSize << "\n"
               << "hparam\tnum_hidden_layers\t" << h.numLayers << "\n"
               << "hparam\tnum_attention_heads\t" << h.numHeads << "\n"
               << "hparam\tnum_key_value_heads\t" << h.numKVHeads << "\n"
               << "hparam\tvocab_size\t" << h.vocabSize << "\n"
               << "hparam\tmax_position_embeddings\t" << h.contextLength << "\n"
               << "hparam\trope_theta\t" << llvm::format("%.17g", h.ropeTheta) << "\n"
               << "hparam\trms_norm_eps\t" << llvm::format("%.17g", h.rmsNormEps) << "\n"
               << "hparam\tsupported\t" << (model->supported() ? 1 : 0) << "\n";
  for (const LayerWeights &l : model->layers)
    for (const LinearWeight *w : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) {
      if (!w->weight || w->encoding != WeightEncoding::TernaryPacked || !w->scale)
        continue;
      float scale;
      std::memcpy(&scale, w->scale->data, sizeof scale);
      auto t = unpackHFBitNet(*w->weight, scale);
      if (!t)
        return fail(t.takeError());
      llvm::ArrayRef<uint8_t> bytes(reinterpret_cast<const uint8_t *>(t->values.data()),
                                    t->values.size());
      llvm::outs() << "ternary\t" << w->weight->name << "\t" << dims(t->shape) << "\t"
                   << sha256(bytes) << "\t"
                   << (w->scaleMode == ScaleMode::Divide ? "divide" : "multiply") << "\n";
    }
  return 0;
}
