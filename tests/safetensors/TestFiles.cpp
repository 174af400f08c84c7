// Writes the SafeTensors files and model directories the tests read back.
#include "TestFiles.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

namespace tern::test {

std::string sharedDataDir() {
  return llvm::sys::fs::is_directory(TERN_SHARED_DATA_DIR) ? TERN_SHARED_DATA_DIR : "";
}

TempDir::TempDir() {
  llvm::SmallString<256> p;
  if (llvm::sys::fs::createUniqueDirectory("tern-safetensors-test", p))
    std::abort();
  dir = std::string(p);
}

TempDir::~TempDir() { llvm::sys::fs::remove_directories(dir); }

std::string TempDir::file(const std::string &name) const {
  llvm::SmallString<256> p(dir);
  llvm::sys::path::append(p, name);
  return std::string(p);
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    std::abort();
  os << bytes;
}

std::string safeTensorsBytes(uint64_t headerLength, const std::string &header,
                             const std::string &data) {
  std::string out;
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((headerLength >> (8 * i)) & 0xff));
  return out + header + data;
}

static uint64_t elementSize(const std::string &dtype) {
  if (dtype == "F64" || dtype == "I64")
    return 8;
  if (dtype == "F32" || dtype == "I32")
    return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16")
    return 2;
  return 1;
}

void writeSafeTensors(const std::string &path, const std::vector<FakeTensor> &tensors) {
  llvm::json::Object header{{"__metadata__", llvm::json::Object{{"format", "pt"}}}};
  uint64_t offset = 0;
  for (const FakeTensor &t : tensors) {
    uint64_t n = elementSize(t.dtype);
    for (int64_t d : t.shape)
      n *= d;
    header[t.name] = llvm::json::Object{{"dtype", t.dtype},
                                        {"shape", llvm::json::Array(t.shape)},
                                        {"data_offsets", llvm::json::Array{offset, offset + n}}};
    offset += n;
  }
  std::string text;
  llvm::raw_string_ostream(text) << llvm::json::Value(std::move(header));
  std::string data(offset, '\0');
  for (uint64_t i = 0; i < offset; ++i)
    data[i] = static_cast<char>((i * 7) & 0xff);
  writeFile(path, safeTensorsBytes(text.size(), text, data));
}

llvm::json::Object tinyBitNetConfig() {
  return llvm::json::Object{
      {"model_type", "bitnet"},
      {"architectures", llvm::json::Array{"BitNetForCausalLM"}},
      {"hidden_size", 8},
      {"intermediate_size", 16},
      {"num_hidden_layers", 1},
      {"num_attention_heads", 2},
      {"num_key_value_heads", 1},
      {"vocab_size", 32},
      {"max_position_embeddings", 64},
      {"rms_norm_eps", 1e-5},
      {"rope_theta", 500000.0},
      {"hidden_act", "relu2"},
      {"tie_word_embeddings", true},
      {"bos_token_id", 1},
      {"eos_token_id", 2},
      {"quantization_config", llvm::json::Object{{"quant_method", "bitnet"},
                                                 {"linear_class", "autobitlinear"},
                                                 {"quantization_mode", "offline"}}},
  };
}

std::vector<FakeTensor> tinyBitNetTensors() {
  std::vector<FakeTensor> t{{"model.embed_tokens.weight", "F32", {32, 8}},
                            {"model.norm.weight", "F32", {8}}};
  const std::string p = "model.layers.0.";
  auto linear = [&](const std::string &name, int64_t out, int64_t in) {
    t.push_back({p + name + ".weight", "U8", {out / 4, in}});
    t.push_back({p + name + ".weight_scale", "F32", {1}});
  };
  t.push_back({p + "input_layernorm.weight", "F32", {8}});
  linear("self_attn.q_proj", 8, 8);
  linear("self_attn.k_proj", 4, 8);
  linear("self_attn.v_proj", 4, 8);
  linear("self_attn.o_proj", 8, 8);
  t.push_back({p + "self_attn.attn_sub_norm.weight", "F32", {8}});
  t.push_back({p + "post_attention_layernorm.weight", "F32", {8}});
  linear("mlp.gate_proj", 16, 8);
  linear("mlp.up_proj", 16, 8);
  linear("mlp.down_proj", 8, 16);
  t.push_back({p + "mlp.ffn_sub_norm.weight", "F32", {16}});
  return t;
}

void writeModel(const std::string &dir, const llvm::json::Object &config,
                const std::vector<FakeTensor> &tensors) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::formatv("{0:2}",
                                                  llvm::json::Value(llvm::json::Object(config)));
  writeFile(dir + "/config.json", text);
  writeSafeTensors(dir + "/model.safetensors", tensors);
}

} // namespace tern::test
