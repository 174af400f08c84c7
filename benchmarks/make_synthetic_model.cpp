// Writes a model with the shape of microsoft/bitnet-b1.58-2B-4T and seeded random ternary weights
// (GGUF, or a Hugging Face directory), so speed can be measured on the real shape without the
// real weights.
//
// The bytes per token, the tensor shapes and types, and the graph match the real model; the
// values do not, so the output text is meaningless (but the numerics stay finite: scales keep
// every projection's output near unit variance).

#include "frontends/common/DType.h"
#include "frontends/common/TensorDecode.h"
#include "frontends/gguf/GGUFTypes.h"
#include "frontends/gguf/GGUFWriter.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <string>
#include <vector>

using namespace tern::fe;
namespace cl = llvm::cl;

static cl::opt<std::string> outputPath("o", cl::desc("output GGUF file (or directory with --format hf)"),
                                       cl::value_desc("path"), cl::Required);
static cl::opt<std::string>
    outputFormat("format",
                 cl::desc("gguf, or hf: a Hugging Face directory (config.json, model.safetensors "
                          "with packed uint8 weights and weight_scale, tokenizer.json)"),
                 cl::init("gguf"));
static cl::opt<std::string> weightType("type", cl::desc("GGUF linear weight type: tq2_0, tq1_0 or i2_s (--format hf always packs uint8)"),
                                       cl::init("tq2_0"));
static cl::opt<std::string>
    architecture("arch",
                 cl::desc("general.architecture: bitnet-b1.58 (relu², the 2B-4T graph; ternc and "
                          "recent bitnet.cpp) or bitnet (llama.cpp's name; its graph uses SiLU and "
                          "always ties the output)"),
                 cl::init("bitnet-b1.58"));
static cl::opt<unsigned> numLayers("layers", cl::desc("number of layers (30 in 2B-4T)"),
                                   cl::init(30));
static cl::opt<unsigned> vocabSize("vocab", cl::desc("vocabulary size (128256 in 2B-4T)"),
                                   cl::init(128256));
static cl::opt<uint64_t> seed("seed", cl::desc("random seed"), cl::init(1));
static cl::opt<std::string>
    tokenizerJSON("tokenizer",
                  cl::desc("a Hugging Face tokenizer.json (LLaMA-3 BPE) to embed instead of the "
                           "synthetic byte-level vocabulary; its size must match --vocab"),
                  cl::value_desc("file"), cl::init(""));

namespace {

// The 2B-4T hyperparameters that --layers and --vocab do not change.
constexpr int64_t kHidden = 2560;
constexpr int64_t kHeads = 20;
constexpr int64_t kKVHeads = 5;
constexpr int64_t kHeadDim = 128;
constexpr int64_t kFFN = 6912;
constexpr uint32_t kContext = 4096;
constexpr float kRopeTheta = 500000.0f;
constexpr float kRMSEps = 1e-5f;

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Each tensor gets its own stream, so its values depend only on (seed, name).
uint64_t streamFor(llvm::StringRef name) {
  uint64_t state = seed ^ 0x5851F42D4C957F2Dull;
  for (char c : name)
    state = (state ^ uint8_t(c)) * 0x100000001B3ull;
  return state;
}

std::vector<int8_t> randomTernary(llvm::StringRef name, uint64_t count) {
  std::vector<int8_t> values(count);
  uint64_t state = streamFor(name);
  for (uint64_t i = 0; i < count; i += 2) {
    uint64_t r = splitmix64(state);
    // (32-bit uniform * 3) >> 32 is uniform over {0, 1, 2}.
    values[i] = int8_t(((r & 0xFFFFFFFFull) * 3 >> 32) - 1);
    if (i + 1 < count)
      values[i + 1] = int8_t(((r >> 32) * 3 >> 32) - 1);
  }
  return values;
}

std::vector<float> randomUniform(uint64_t &state, uint64_t count, float center, float halfWidth) {
  std::vector<float> values(count);
  for (float &v : values) {
    double unit = double(splitmix64(state) >> 11) * 0x1.0p-53; // [0, 1)
    v = center + halfWidth * float(2.0 * unit - 1.0);
  }
  return values;
}

uint64_t bytesOf(DType type, uint64_t elements) { return *storageBytes(type, elements); }

enum class Role { Embedding, Norm, Linear };

// One tensor of the model under both naming schemes. Values are seeded by the GGUF name, so
// the GGUF and Hugging Face outputs of one seed hold the same model.
struct TensorSpec {
  std::string gguf;
  std::string hf;
  Role role;
  int64_t rows; // output features (the element count for a norm)
  int64_t cols; // input features (1 for a norm)
};

std::vector<TensorSpec> modelTensors(unsigned layers, int64_t vocab) {
  std::vector<TensorSpec> specs = {
      {"token_embd.weight", "model.embed_tokens.weight", Role::Embedding, vocab, kHidden},
      {"output_norm.weight", "model.norm.weight", Role::Norm, kHidden, 1}};
  for (unsigned i = 0; i < layers; ++i) {
    const std::string g = "blk." + std::to_string(i) + ".";
    const std::string h = "model.layers." + std::to_string(i) + ".";
    auto add = [&](const char *gguf, const char *hf, Role role, int64_t rows, int64_t cols) {
      specs.push_back({g + gguf, h + hf, role, rows, cols});
    };
    add("attn_norm.weight", "input_layernorm.weight", Role::Norm, kHidden, 1);
    add("attn_q.weight", "self_attn.q_proj", Role::Linear, kHeads * kHeadDim, kHidden);
    add("attn_k.weight", "self_attn.k_proj", Role::Linear, kKVHeads * kHeadDim, kHidden);
    add("attn_v.weight", "self_attn.v_proj", Role::Linear, kKVHeads * kHeadDim, kHidden);
    add("attn_sub_norm.weight", "self_attn.attn_sub_norm.weight", Role::Norm, kHidden, 1);
    add("attn_output.weight", "self_attn.o_proj", Role::Linear, kHidden, kHeads * kHeadDim);
    add("ffn_norm.weight", "post_attention_layernorm.weight", Role::Norm, kHidden, 1);
    add("ffn_gate.weight", "mlp.gate_proj", Role::Linear, kFFN, kHidden);
    add("ffn_up.weight", "mlp.up_proj", Role::Linear, kFFN, kHidden);
    add("ffn_sub_norm.weight", "mlp.ffn_sub_norm.weight", Role::Norm, kFFN, 1);
    add("ffn_down.weight", "mlp.down_proj", Role::Linear, kHidden, kFFN);
  }
  return specs;
}

std::vector<float> normValues(const TensorSpec &spec) {
  uint64_t state = streamFor(spec.gguf);
  return randomUniform(state, uint64_t(spec.rows), 1.0f, 0.05f);
}

// Two thirds of the ternary weights are nonzero: this scale gives unit-variance outputs for
// unit-variance inputs.
float linearScale(const TensorSpec &spec) {
  return float(1.0 / std::sqrt(double(spec.cols) * 2.0 / 3.0));
}

constexpr int64_t kEmbeddingRowsPerSlice = 4096;

// Streams the F16 embedding in slices of rows to bound memory.
void writeEmbedding(llvm::raw_ostream &os, const TensorSpec &spec) {
  uint64_t state = streamFor(spec.gguf);
  for (int64_t row = 0; row < spec.rows; row += kEmbeddingRowsPerSlice) {
    int64_t rows = std::min(kEmbeddingRowsPerSlice, spec.rows - row);
    std::vector<uint8_t> bytes = encodeF16(randomUniform(state, uint64_t(rows) * spec.cols, 0.0f, 0.05f));
    os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  }
}

void writeBytes(llvm::raw_ostream &os, const std::vector<uint8_t> &bytes) {
  os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
}

void writeFloats(llvm::raw_ostream &os, const std::vector<float> &values) {
  os.write(reinterpret_cast<const char *>(values.data()), values.size() * sizeof(float));
}

void addGGUFTensor(GGUFWriter &writer, DType type, const TensorSpec &spec) {
  const TensorSpec copy = spec;
  const uint64_t count = uint64_t(spec.rows) * uint64_t(spec.cols);
  switch (spec.role) {
  case Role::Norm:
    writer.addTensor(spec.gguf, {spec.rows}, *ggmlTypeId(DType::F32), bytesOf(DType::F32, count),
                     [copy](llvm::raw_ostream &os) -> llvm::Error {
                       writeFloats(os, normValues(copy));
                       return llvm::Error::success();
                     });
    return;
  case Role::Embedding:
    writer.addTensor(spec.gguf, {spec.rows, spec.cols}, *ggmlTypeId(DType::F16),
                     bytesOf(DType::F16, count), [copy](llvm::raw_ostream &os) -> llvm::Error {
                       writeEmbedding(os, copy);
                       return llvm::Error::success();
                     });
    return;
  case Role::Linear:
    // The values are generated while the file is written, one tensor at a time.
    writer.addTensor(spec.gguf, {spec.rows, spec.cols}, *ggmlTypeId(type), bytesOf(type, count),
                     [copy, type, count](llvm::raw_ostream &os) -> llvm::Error {
                       std::vector<int8_t> values = randomTernary(copy.gguf, count);
                       const float scale = linearScale(copy);
                       if (type == DType::I2_S)
                         writeBytes(os, encodeI2_S(values, scale));
                       else if (type == DType::TQ1_0)
                         writeBytes(os, encodeTQ1_0(values, std::vector<float>(count / 256, scale)));
                       else
                         writeBytes(os, encodeTQ2_0(values, std::vector<float>(count / 256, scale)));
                       return llvm::Error::success();
                     });
    return;
  }
}

// Hugging Face BitNet offline packing: uint8 [out/4, in], output row r + i*(out/4) in bits
// 2i..2i+1, stored as w+1.
std::vector<uint8_t> packHFBitNet(const std::vector<int8_t> &values, int64_t rows, int64_t cols) {
  const int64_t packedRows = rows / 4;
  std::vector<uint8_t> packed(uint64_t(packedRows) * cols, 0);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t r = 0; r < packedRows; ++r) {
      const int8_t *src = values.data() + (r + i * packedRows) * cols;
      uint8_t *dst = packed.data() + r * cols;
      for (int64_t c = 0; c < cols; ++c)
        dst[c] |= uint8_t((src[c] + 1) << (2 * i));
    }
  return packed;
}

// GPT-2's byte-to-unicode table: printable bytes stand for themselves, the others are moved
// to U+0100 and up, so every byte has a visible one-character token.
std::string byteToken(unsigned byte) {
  auto printable = [](unsigned b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  unsigned codepoint = byte;
  if (!printable(byte)) {
    unsigned shifted = 0;
    for (unsigned b = 0; b < byte; ++b)
      shifted += !printable(b);
    codepoint = 256 + shifted;
  }
  std::string utf8;
  if (codepoint < 0x80) {
    utf8 += char(codepoint);
  } else {
    utf8 += char(0xC0 | (codepoint >> 6));
    utf8 += char(0x80 | (codepoint & 0x3F));
  }
  return utf8;
}

constexpr int32_t kTokenNormal = 1, kTokenControl = 3;

struct Vocabulary {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  uint32_t bos = 0, eos = 0;
  std::string pre = "gpt-2";
};

// 256 byte tokens, the 676 lower-case letter pairs with their merges (so that the vocabulary is
// a real byte-level BPE every engine can load and tokenize with), filler tokens, then up to 256
// control tokens (LLaMA-3's layout: the special ids start at vocab - 256; small test vocabularies
// keep only BOS and EOS, to leave room for merges).
Vocabulary syntheticVocabulary(uint32_t vocab) {
  Vocabulary v;
  const uint32_t specials = vocab >= 4096 ? 256 : 2;
  for (unsigned b = 0; b < 256; ++b) {
    v.tokens.push_back(byteToken(b));
    v.types.push_back(kTokenNormal);
  }
  for (char first = 'a'; first <= 'z'; ++first)
    for (char second = 'a'; second <= 'z'; ++second) {
      if (v.tokens.size() >= vocab - specials)
        break;
      v.tokens.push_back(std::string{first, second});
      v.types.push_back(kTokenNormal);
      v.merges.push_back(std::string{first, ' ', second});
    }
  for (uint32_t id = uint32_t(v.tokens.size()); id < vocab - specials; ++id) {
    v.tokens.push_back("filler" + std::to_string(id));
    v.types.push_back(kTokenNormal);
  }
  for (uint32_t i = 0; i < specials; ++i) {
    v.tokens.push_back(i == 0   ? "<|begin_of_text|>"
                       : i == 1 ? "<|end_of_text|>"
                                : "<|reserved_special_token_" + std::to_string(i - 2) + "|>");
    v.types.push_back(kTokenControl);
  }
  v.bos = vocab - specials;
  v.eos = vocab - specials + 1;
  return v;
}

llvm::Expected<Vocabulary> vocabularyFromJSON(llvm::StringRef path, uint32_t vocab) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return llvm::createStringError(buffer.getError(), "%s: cannot read: %s", path.str().c_str(),
                                   buffer.getError().message().c_str());
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse((*buffer)->getBuffer());
  if (!parsed)
    return parsed.takeError();
  auto fail = [&](const std::string &what) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: %s", path.str().c_str(),
                                   what.c_str());
  };
  const llvm::json::Object *root = parsed->getAsObject();
  const llvm::json::Object *model = root ? root->getObject("model") : nullptr;
  const llvm::json::Object *ids = model ? model->getObject("vocab") : nullptr;
  if (!ids)
    return fail("expected a Hugging Face tokenizer.json with model.vocab");
  Vocabulary v;
  v.pre = "llama-bpe";
  v.tokens.assign(vocab, "");
  v.types.assign(vocab, kTokenNormal);
  auto place = [&](int64_t id, llvm::StringRef text, int32_t type) -> bool {
    if (id < 0 || id >= int64_t(vocab))
      return false;
    v.tokens[id] = text.str();
    v.types[id] = type;
    return true;
  };
  for (const auto &entry : *ids)
    if (auto id = entry.second.getAsInteger(); !id || !place(*id, entry.first.str(), kTokenNormal))
      return fail("model.vocab entry '" + entry.first.str() + "' has an id outside [0, " +
                  std::to_string(vocab) + ")");
  if (const llvm::json::Array *added = root->getArray("added_tokens"))
    for (const llvm::json::Value &token : *added) {
      const llvm::json::Object *t = token.getAsObject();
      auto id = t ? t->getInteger("id") : std::nullopt;
      auto content = t ? t->getString("content") : std::nullopt;
      if (!id || !content || !place(*id, *content, kTokenControl))
        return fail("an added_tokens entry lacks an id inside the vocabulary or its content");
      if (*content == "<|begin_of_text|>")
        v.bos = uint32_t(*id);
      if (*content == "<|end_of_text|>")
        v.eos = uint32_t(*id);
    }
  for (uint32_t id = 0; id < vocab; ++id)
    if (v.tokens[id].empty())
      return fail("no token has id " + std::to_string(id) + " (is --vocab right?)");
  if (const llvm::json::Array *merges = model->getArray("merges"))
    for (const llvm::json::Value &merge : *merges) {
      if (auto text = merge.getAsString()) {
        v.merges.push_back(text->str());
      } else if (const llvm::json::Array *pair = merge.getAsArray();
                 pair && pair->size() == 2 && (*pair)[0].getAsString() &&
                 (*pair)[1].getAsString()) {
        v.merges.push_back((*(*pair)[0].getAsString() + " " + *(*pair)[1].getAsString()).str());
      } else {
        return fail("model.merges holds an entry that is neither \"a b\" nor [\"a\", \"b\"]");
      }
    }
  return v;
}

llvm::Error writeGGUF(const Vocabulary &vocab, DType type) {
  GGUFWriter writer;
  const std::string a = architecture;
  writer.addString("general.architecture", a);
  writer.addString("general.name", "synthetic bitnet-b1.58-2B-4T shape (" + weightType + ", " +
                                       std::to_string(numLayers) + " layers, random weights)");
  writer.addUInt32("general.alignment", 32);
  writer.addUInt32(a + ".vocab_size", vocabSize);
  writer.addUInt32(a + ".context_length", kContext);
  writer.addUInt32(a + ".embedding_length", kHidden);
  writer.addUInt32(a + ".block_count", numLayers);
  writer.addUInt32(a + ".feed_forward_length", kFFN);
  writer.addUInt32(a + ".attention.head_count", kHeads);
  writer.addUInt32(a + ".attention.head_count_kv", kKVHeads);
  writer.addUInt32(a + ".attention.key_length", kHeadDim);
  writer.addUInt32(a + ".attention.value_length", kHeadDim);
  writer.addUInt32(a + ".rope.dimension_count", kHeadDim);
  writer.addFloat32(a + ".rope.freq_base", kRopeTheta);
  writer.addFloat32(a + ".attention.layer_norm_rms_epsilon", kRMSEps);

  writer.addString("tokenizer.ggml.model", "gpt2");
  writer.addString("tokenizer.ggml.pre", vocab.pre);
  writer.add("tokenizer.ggml.tokens", GGUFWriter::Value::stringArray(vocab.tokens));
  writer.add("tokenizer.ggml.token_type", GGUFWriter::Value::i32Array(vocab.types));
  writer.add("tokenizer.ggml.merges", GGUFWriter::Value::stringArray(vocab.merges));
  writer.addUInt32("tokenizer.ggml.bos_token_id", vocab.bos);
  writer.addUInt32("tokenizer.ggml.eos_token_id", vocab.eos);
  writer.addBool("tokenizer.ggml.add_bos_token", true);

  // Tensors in llama.cpp's order: embedding, final norm, then layer by layer.
  for (const TensorSpec &spec : modelTensors(numLayers, vocabSize))
    addGGUFTensor(writer, type, spec);
  return writer.write(outputPath);
}

std::string quoted(llvm::StringRef text) {
  std::string out;
  llvm::raw_string_ostream os(out);
  os << llvm::json::Value(text.str());
  return out;
}

// A tokenizer.json for the synthetic vocabulary: byte-level BPE with its letter-pair merges.
llvm::json::Value syntheticTokenizerJSON(const Vocabulary &vocab) {
  llvm::json::Object ids;
  llvm::json::Array added;
  for (size_t id = 0; id < vocab.tokens.size(); ++id) {
    if (vocab.types[id] == kTokenControl)
      added.push_back(llvm::json::Object{{"id", int64_t(id)},
                                         {"content", vocab.tokens[id]},
                                         {"single_word", false},
                                         {"lstrip", false},
                                         {"rstrip", false},
                                         {"normalized", false},
                                         {"special", true}});
    else
      ids[vocab.tokens[id]] = int64_t(id);
  }
  llvm::json::Array merges;
  for (const std::string &merge : vocab.merges)
    merges.push_back(merge);
  llvm::json::Object byteLevel{{"type", "ByteLevel"},
                               {"add_prefix_space", false},
                               {"trim_offsets", true},
                               {"use_regex", true}};
  return llvm::json::Object{
      {"version", "1.0"},
      {"added_tokens", std::move(added)},
      {"normalizer", nullptr},
      {"pre_tokenizer", llvm::json::Object(byteLevel)},
      {"post_processor", nullptr},
      {"decoder", llvm::json::Object(byteLevel)},
      {"model", llvm::json::Object{{"type", "BPE"},
                                   {"dropout", nullptr},
                                   {"unk_token", nullptr},
                                   {"byte_fallback", false},
                                   {"ignore_merges", false},
                                   {"vocab", std::move(ids)},
                                   {"merges", std::move(merges)}}}};
}

llvm::Error writeText(const std::string &path, const std::string &text) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return llvm::createStringError(ec, "%s: cannot write: %s", path.c_str(), ec.message().c_str());
  os << text;
  return llvm::Error::success();
}

// A Hugging Face BitNet directory in transformers' offline AutoBitLinear form (what
// `quantization_mode: offline, linear_class: autobitlinear` loads): config.json,
// model.safetensors and tokenizer.json.
llvm::Error writeHF(const Vocabulary &vocab) {
  if (std::error_code ec = llvm::sys::fs::create_directories(outputPath))
    return llvm::createStringError(ec, "%s: cannot create the directory: %s",
                                   outputPath.c_str(), ec.message().c_str());
  llvm::SmallString<256> base(outputPath);

  llvm::json::Object config{
      {"architectures", llvm::json::Array{"BitNetForCausalLM"}},
      {"model_type", "bitnet"},
      {"vocab_size", int64_t(vocabSize)},
      {"hidden_size", kHidden},
      {"intermediate_size", kFFN},
      {"num_hidden_layers", int64_t(numLayers)},
      {"num_attention_heads", kHeads},
      {"num_key_value_heads", kKVHeads},
      {"head_dim", kHeadDim},
      {"hidden_act", "relu2"},
      {"max_position_embeddings", int64_t(kContext)},
      {"rms_norm_eps", double(kRMSEps)},
      {"rope_theta", double(kRopeTheta)},
      {"tie_word_embeddings", true},
      {"bos_token_id", int64_t(vocab.bos)},
      {"eos_token_id", int64_t(vocab.eos)},
      {"torch_dtype", "float16"},
      {"quantization_config", llvm::json::Object{{"quant_method", "bitnet"},
                                                 {"linear_class", "autobitlinear"},
                                                 {"quantization_mode", "offline"}}}};
  std::string configText;
  llvm::raw_string_ostream(configText) << llvm::formatv("{0:2}", llvm::json::Value(std::move(config)));
  llvm::SmallString<256> path = base;
  llvm::sys::path::append(path, "config.json");
  if (llvm::Error e = writeText(std::string(path), configText + "\n"))
    return e;

  path = base;
  llvm::sys::path::append(path, "tokenizer.json");
  if (tokenizerJSON.empty()) {
    std::string text;
    llvm::raw_string_ostream(text) << syntheticTokenizerJSON(vocab);
    if (llvm::Error e = writeText(std::string(path), text))
      return e;
  } else if (std::error_code ec = llvm::sys::fs::copy_file(tokenizerJSON, path)) {
    return llvm::createStringError(ec, "%s: cannot copy to %s: %s", tokenizerJSON.c_str(),
                                   path.c_str(), ec.message().c_str());
  }

  // The safetensors header lists every tensor with its byte range; the data follows in order.
  const std::vector<TensorSpec> specs = modelTensors(numLayers, vocabSize);
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  uint64_t offset = 0;
  auto entry = [&](const std::string &name, const char *dtype, std::vector<int64_t> shape,
                   uint64_t bytes) {
    header += "," + quoted(name) + ":{\"dtype\":\"" + dtype + "\",\"shape\":[";
    for (size_t i = 0; i < shape.size(); ++i)
      header += (i ? "," : "") + std::to_string(shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  };
  for (const TensorSpec &spec : specs) {
    const uint64_t count = uint64_t(spec.rows) * uint64_t(spec.cols);
    if (spec.role == Role::Norm)
      entry(spec.hf, "F32", {spec.rows}, count * 4);
    else if (spec.role == Role::Embedding)
      entry(spec.hf, "F16", {spec.rows, spec.cols}, count * 2);
    else {
      entry(spec.hf + ".weight", "U8", {spec.rows / 4, spec.cols}, count / 4);
      entry(spec.hf + ".weight_scale", "F32", {1}, 4);
    }
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');

  path = base;
  llvm::sys::path::append(path, "model.safetensors");
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return llvm::createStringError(ec, "%s: cannot write: %s", path.c_str(), ec.message().c_str());
  const uint64_t headerSize = header.size();
  os.write(reinterpret_cast<const char *>(&headerSize), 8); // little-endian hosts only
  os << header;
  for (const TensorSpec &spec : specs) {
    if (spec.role == Role::Norm) {
      writeFloats(os, normValues(spec));
    } else if (spec.role == Role::Embedding) {
      writeEmbedding(os, spec);
    } else {
      const uint64_t count = uint64_t(spec.rows) * uint64_t(spec.cols);
      writeBytes(os, packHFBitNet(randomTernary(spec.gguf, count), spec.rows, spec.cols));
      writeFloats(os, {linearScale(spec)});
    }
  }
  os.close();
  if (os.has_error())
    return llvm::createStringError(os.error(), "%s: write failed: %s", path.c_str(),
                                   os.error().message().c_str());
  return llvm::Error::success();
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(
      argc, argv,
      "make_synthetic_model: a GGUF file with the microsoft/bitnet-b1.58-2B-4T shape (hidden "
      "2560, 20 heads, 5 KV heads, head_dim 128, FFN 6912, tied F16 embedding, sub-norms, RoPE "
      "base 5e5, context 4096) and seeded random ternary weights\n");
  auto fail = [](const llvm::Twine &message) {
    llvm::errs() << "make_synthetic_model: " << message << "\n";
    return 1;
  };

  DType type;
  if (weightType == "tq2_0")
    type = DType::TQ2_0;
  else if (weightType == "tq1_0")
    type = DType::TQ1_0;
  else if (weightType == "i2_s")
    type = DType::I2_S;
  else
    return fail("--type '" + weightType + "' is unknown; expected tq2_0, tq1_0 or i2_s");
  if (architecture != "bitnet" && architecture != "bitnet-b1.58" && architecture != "bitnet-25")
    return fail("--arch '" + architecture + "' is unknown; expected bitnet-b1.58, bitnet-25 or bitnet");
  if (outputFormat != "gguf" && outputFormat != "hf")
    return fail("--format '" + outputFormat + "' is unknown; expected gguf or hf");
  if (numLayers == 0 || numLayers > 1000)
    return fail("--layers must be between 1 and 1000, got " + llvm::Twine(unsigned(numLayers)));
  if (vocabSize < 259)
    return fail("--vocab must be at least 259 (256 byte tokens, a merge, BOS, EOS), got " +
                llvm::Twine(unsigned(vocabSize)));

  Vocabulary vocab;
  if (tokenizerJSON.empty()) {
    vocab = syntheticVocabulary(vocabSize);
  } else {
    auto loaded = vocabularyFromJSON(tokenizerJSON, vocabSize);
    if (!loaded)
      return fail(llvm::toString(loaded.takeError()));
    vocab = std::move(*loaded);
  }

  llvm::Error error = outputFormat == "hf" ? writeHF(vocab) : writeGGUF(vocab, type);
  if (error)
    return fail(llvm::toString(std::move(error)));
  return 0;
}
