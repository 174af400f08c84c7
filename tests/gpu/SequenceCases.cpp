// Cases for embedding, position_embedding, rope, kv_cache_write, rope_kv_cache_write,
// attention and rope_kv_attention: the 2B-4T shapes (hidden 2560, 20 heads over 5 kv heads of 128,
// q/k/v read out of the fused 3840-wide QKV output, context 4096), GPT-2's position table, decode
// at positions up to the end of the context, prefill from 0 and from pos > 0, and small odd shapes
// that take the kernels' other paths.
#include "tests/gpu/KernelCases.h"

#include "packing/QuantizedPacking.h"

#include <cmath>
#include <cstring>

namespace tern::gpu::test {

namespace {

// Floats of varied magnitudes (some tiny, so f16 tables hold subnormals).
std::vector<float> randomFloats(std::mt19937 &rng, size_t count, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::uniform_int_distribution<int> tiny(0, 15);
  std::vector<float> values(count);
  for (float &v : values)
    v = dist(rng) * (tiny(rng) == 0 ? 1e-5f : 1.0f);
  return values;
}

std::vector<uint8_t> tokenBytes(std::mt19937 &rng, int64_t rows, int64_t vocab) {
  std::uniform_int_distribution<int32_t> dist(0, int32_t(vocab - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(rows));
  for (int32_t &t : tokens)
    t = dist(rng);
  // The first and last rows of the table are the easiest to get wrong.
  tokens[0] = int32_t(vocab - 1);
  if (rows > 1)
    tokens[1] = 0;
  return bytesOf(tokens);
}

// A (vocab, width) table stored as |dtype| (docs/kernels.md, weight layouts).
std::vector<uint8_t> tableBytes(std::mt19937 &rng, const std::string &dtype, int64_t vocab,
                                int64_t width) {
  const std::vector<float> values = randomFloats(rng, size_t(vocab * width), 2.0f);
  if (dtype == "f32")
    return bytesOf(values);
  if (dtype == "f16" || dtype == "bf16") {
    std::vector<uint16_t> bits(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      if (dtype == "f16") {
        bits[i] = packing::floatToHalfBits(values[i]);
      } else {
        uint32_t word;
        std::memcpy(&word, &values[i], 4);
        bits[i] = uint16_t(word >> 16);
      }
    }
    return bytesOf(bits);
  }
  if (dtype == "q8_0") {
    // Blocks of an f16 scale and 32 int8 codes, 34 bytes, not aligned beyond 2 bytes.
    std::uniform_int_distribution<int> code(-128, 127);
    std::vector<uint8_t> bytes(size_t(vocab * width / 32 * 34));
    for (size_t block = 0; block < bytes.size() / 34; ++block) {
      const uint16_t d = packing::floatToHalfBits(values[block] * 0.01f);
      std::memcpy(&bytes[block * 34], &d, 2);
      for (int i = 0; i < 32; ++i)
        bytes[block * 34 + 2 + i] = uint8_t(int8_t(code(rng)));
    }
    return bytes;
  }
  packing::QuantFormat format;
  packing::quantFormatFromName(dtype.c_str(), &format);
  std::vector<uint8_t> bytes(size_t(packing::quantPackedBytes(format, vocab, width)));
  packing::quantizeMatrix(format, values.data(), vocab, width, bytes.data());
  return bytes;
}

// rope's table: (context, head_dim / 2) pairs of (cos, sin), computed in double and rounded
// once, as the compiler does.
std::vector<uint8_t> ropeTable(int64_t context, int64_t headDim, double theta) {
  const int64_t half = headDim / 2;
  std::vector<float> table(size_t(context * half * 2));
  for (int64_t p = 0; p < context; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = double(p) * std::pow(theta, -2.0 * double(i) / double(headDim));
      table[size_t((p * half + i) * 2)] = float(std::cos(angle));
      table[size_t((p * half + i) * 2 + 1)] = float(std::sin(angle));
    }
  return bytesOf(table);
}

// Floats spanned by |rows| rows of |width| read with |stride|.
size_t strided(int64_t rows, int64_t width, int64_t stride) {
  return size_t((rows - 1) * stride + width);
}

void addEmbeddingCases(std::mt19937 &rng, std::vector<KernelCase> &cases) {
  struct Shape {
    const char *dtype;
    int64_t vocab, width, rows, maxRows;
  };
  const Shape shapes[] = {
      {"f32", 1000, 2560, 1, 64},   {"f32", 1000, 2560, 7, 64},  {"f32", 97, 37, 5, 8},
      {"f16", 1000, 2560, 1, 64},   {"f16", 333, 2560, 64, 64},  {"f16", 50, 38, 3, 4},
      {"bf16", 1000, 2560, 7, 64},  {"bf16", 61, 6, 2, 2},       {"q8_0", 1000, 2560, 1, 64},
      {"q8_0", 129, 96, 7, 8},      {"q8_b32", 1000, 2560, 7, 64}, {"q8_b32", 77, 32, 3, 4},
      {"q4_b32", 1000, 2560, 1, 64}, {"q4_b32", 77, 96, 7, 8},    {"q6_b32", 1000, 2560, 7, 64},
      {"q6_b32", 77, 160, 3, 4},
  };
  int index = 0;
  for (const Shape &s : shapes) {
    KernelCase c;
    c.spec.family = "embedding";
    c.spec.symbol = "seq_embedding_" + std::to_string(index++);
    c.spec.ints["vocab"] = s.vocab;
    c.spec.ints["width"] = s.width;
    c.spec.strings["dtype"] = s.dtype;
    c.rows = s.rows;
    c.maxRows = s.maxRows;
    c.name = std::string("embedding ") + s.dtype + " " + std::to_string(s.vocab) + "x" +
             std::to_string(s.width) + " rows " + std::to_string(s.rows);
    c.bindings = {tableBytes(rng, s.dtype, s.vocab, s.width), tokenBytes(rng, s.rows, s.vocab),
                  poisonedBytes(size_t(s.rows * s.width) * 4)};
    // A decode is one float multiply (or none) per value, as in the reference.
    c.outputs = {{2, Compare::Exact}};
    cases.push_back(std::move(c));
  }
}

// Learned absolute positions (GPT-2's wpe: 1024 x 768): rows pos .. pos + rows - 1, up to the
// table's last row.
void addPositionEmbeddingCases(std::mt19937 &rng, std::vector<KernelCase> &cases) {
  struct Shape {
    const char *dtype;
    int64_t positions, width, rows, pos, maxRows;
  };
  const Shape shapes[] = {
      {"f32", 1024, 768, 1, 1023, 64}, // decode at the last position
      {"f32", 1024, 768, 64, 0, 64},   // prefill
      {"f16", 1024, 768, 7, 300, 64},  // prefill after a prompt
      {"bf16", 2048, 2560, 1, 17, 1},  // decode entry point
      {"q8_0", 1024, 768, 5, 100, 8},
      {"f32", 50, 37, 5, 45, 8},       // odd width: single floats
  };
  int index = 0;
  for (const Shape &s : shapes) {
    KernelCase c;
    c.spec.family = "position_embedding";
    c.spec.symbol = "seq_position_embedding_" + std::to_string(index++);
    c.spec.ints["positions"] = s.positions;
    c.spec.ints["width"] = s.width;
    c.spec.strings["dtype"] = s.dtype;
    c.rows = s.rows;
    c.pos = s.pos;
    c.maxRows = s.maxRows;
    c.name = std::string("position_embedding ") + s.dtype + " " + std::to_string(s.positions) +
             "x" + std::to_string(s.width) + " rows " + std::to_string(s.rows) + " pos " +
             std::to_string(s.pos);
    c.bindings = {tableBytes(rng, s.dtype, s.positions, s.width),
                  poisonedBytes(size_t(s.rows * s.width) * 4)};
    c.outputs = {{1, Compare::Exact}};
    cases.push_back(std::move(c));
  }
}

// The parameters rope and rope_kv_cache_write share.
KernelSpec ropeSpec(const std::string &family, const std::string &symbol, int64_t heads,
                    int64_t headDim, int64_t stride, int64_t context, const char *style) {
  KernelSpec spec;
  spec.family = family;
  spec.symbol = symbol;
  spec.ints = {{"heads", heads}, {"head_dim", headDim}, {"stride", stride}, {"context", context}};
  spec.strings["style"] = style;
  return spec;
}

void addRopeCases(std::mt19937 &rng, std::vector<KernelCase> &cases) {
  struct Shape {
    int64_t heads, headDim, stride, context, rows, pos, maxRows;
    const char *style;
  };
  const Shape shapes[] = {
      {20, 128, 3840, 4096, 1, 1000, 64, "normal"}, // q of the fused QKV output, decode
      {5, 128, 3840, 4096, 1, 4095, 64, "normal"},  // k, the last position
      {20, 128, 3840, 4096, 64, 0, 64, "neox"},     // prefill
      {5, 128, 3840, 4096, 7, 300, 64, "neox"},     // prefill after a prompt
      {20, 128, 2560, 4096, 7, 13, 64, "normal"},   // q on its own
      {3, 6, 21, 50, 5, 40, 8, "normal"},           // odd stride: single floats
      {3, 6, 21, 50, 5, 40, 8, "neox"},
  };
  int index = 0;
  for (const Shape &s : shapes) {
    KernelCase c;
    c.spec = ropeSpec("rope", "seq_rope_" + std::to_string(index++), s.heads, s.headDim,
                      s.stride, s.context, s.style);
    c.rows = s.rows;
    c.pos = s.pos;
    c.maxRows = s.maxRows;
    c.name = std::string("rope ") + s.style + " " + std::to_string(s.heads) + "x" +
             std::to_string(s.headDim) + " stride " + std::to_string(s.stride) + " rows " +
             std::to_string(s.rows) + " pos " + std::to_string(s.pos);
    // x is rotated in place; the columns between rows (the rest of the QKV row) must survive.
    c.bindings = {randomF32Bytes(rng, strided(s.rows, s.heads * s.headDim, s.stride), 3.0f),
                  ropeTable(s.context, s.headDim, 500000.0)};
    c.outputs = {{0, Compare::Float32, 1e-6}};
    cases.push_back(std::move(c));
  }
}

void addKVCacheWriteCases(std::mt19937 &rng, std::vector<KernelCase> &cases) {
  struct Shape {
    int64_t kvHeads, headDim, kStride, vStride, context, rows, pos, maxRows;
  };
  const Shape shapes[] = {
      {5, 128, 3840, 3840, 4096, 1, 1000, 64}, // decode from the fused QKV output
      {5, 128, 3840, 3840, 4096, 64, 100, 64}, // prefill after a prompt
      {5, 128, 3840, 3840, 4096, 7, 4089, 64}, // up to the end of the context
      {5, 128, 640, 640, 4096, 1, 0, 1},       // dense k and v
      {3, 5, 17, 19, 20, 3, 2, 4},             // odd widths and strides: single floats
  };
  int index = 0;
  for (const Shape &s : shapes) {
    const int64_t width = s.kvHeads * s.headDim;
    KernelCase c;
    c.spec.family = "kv_cache_write";
    c.spec.symbol = "seq_kv_cache_write_" + std::to_string(index++);
    c.spec.ints["kv_heads"] = s.kvHeads;
    c.spec.ints["head_dim"] = s.headDim;
    c.spec.ints["k_stride"] = s.kStride;
    c.spec.ints["v_stride"] = s.vStride;
    c.spec.ints["context"] = s.context;
    c.rows = s.rows;
    c.pos = s.pos;
    c.maxRows = s.maxRows;
    c.name = "kv_cache_write " + std::to_string(s.kvHeads) + "x" + std::to_string(s.headDim) +
             " rows " + std::to_string(s.rows) + " pos " + std::to_string(s.pos);
    // The caches hold earlier positions (and garbage after): only the call's rows may change.
    c.bindings = {randomF32Bytes(rng, strided(s.rows, width, s.kStride), 2.0f),
                  randomF32Bytes(rng, strided(s.rows, width, s.vStride), 2.0f),
                  randomF32Bytes(rng, size_t(s.context * width), 2.0f),
                  randomF32Bytes(rng, size_t(s.context * width), 2.0f)};
    c.outputs = {{2, Compare::Exact}, {3, Compare::Exact}};
    cases.push_back(std::move(c));
  }
}

// rope_kv_cache_write (the two above in one dispatch): x holds q then k, whose last kv_heads
// heads go to the key cache once rotated; v is read on its own.
void addRopeKVCacheWriteCases(std::mt19937 &rng, std::vector<KernelCase> &cases) {
  struct Shape {
    int64_t heads, kvHeads, headDim, stride, vStride, context, rows, pos, maxRows;
    const char *style;
  };
  const Shape shapes[] = {
      {25, 5, 128, 3840, 3840, 4096, 1, 1000, 64, "normal"}, // 2B-4T q and k, decode
      {25, 5, 128, 3840, 3840, 4096, 1, 4095, 64, "normal"}, // the last position
      {25, 5, 128, 3840, 3840, 4096, 64, 0, 64, "neox"},     // prefill
      {25, 5, 128, 3840, 3840, 4096, 7, 4089, 64, "normal"}, // up to the end of the context
      {3, 1, 8, 24, 8, 16, 3, 0, 4, "normal"},               // dense rows
      {5, 2, 6, 31, 13, 50, 5, 40, 8, "normal"},             // odd strides: single floats
      {5, 2, 6, 31, 13, 50, 5, 40, 8, "neox"},
  };
  int index = 0;
  for (const Shape &s : shapes) {
    const int64_t width = s.kvHeads * s.headDim;
    KernelCase c;
    c.spec = ropeSpec("rope_kv_cache_write", "seq_rope_kv_cache_write_" + std::to_string(index++),
                      s.heads, s.headDim, s.stride, s.context, s.style);
    c.spec.ints["kv_heads"] = s.kvHeads;
    c.spec.ints["v_stride"] = s.vStride;
    c.rows = s.rows;
    c.pos = s.pos;
    c.maxRows = s.maxRows;
    c.name = std::string("rope_kv_cache_write ") + s.style + " " + std::to_string(s.heads) +
             "x" + std::to_string(s.headDim) + " kv " + std::to_string(s.kvHeads) + " rows " +
             std::to_string(s.rows) + " pos " + std::to_string(s.pos);
    // The caches hold earlier positions (and garbage after): only the call's rows may change.
    c.bindings = {randomF32Bytes(rng, strided(s.rows, s.heads * s.headDim, s.stride), 3.0f),
                  ropeTable(s.context, s.headDim, 500000.0),
                  randomF32Bytes(rng, strided(s.rows, width, s.vStride), 2.0f),
                  randomF32Bytes(rng, size_t(s.context * width), 2.0f),
                  randomF32Bytes(rng, size_t(s.context * width), 2.0f)};
    c.outputs = {{0, Compare::Float32, 1e-6}, {3, Compare::Float32, 1e-6}, {4, Compare::Exact}};
    cases.push_back(std::move(c));
  }
}

void addAttentionCases(std::mt19937 &rng, std::vector<KernelCase> &cases) {
  struct Shape {
    int64_t heads, kvHeads, headDim, qStride, context, rows, pos, maxRows;
    float qScale; // larger q gives a sharper softmax
  };
  const double s128 = 1.0 / std::sqrt(128.0);
  const Shape shapes[] = {
      {20, 5, 128, 3840, 4096, 1, 0, 64, 1.0f},    // first token
      {20, 5, 128, 3840, 4096, 1, 1000, 64, 4.0f}, // decode, long context
      {20, 5, 128, 3840, 4096, 1, 4095, 1, 2.0f},  // the whole context
      {20, 5, 128, 3840, 4096, 64, 0, 64, 3.0f},   // prefill
      {20, 5, 128, 3840, 4096, 7, 300, 64, 8.0f},  // prefill after a prompt
      {20, 5, 128, 2560, 4096, 3, 37, 8, 1.0f},    // dense q
      {8, 4, 8, 64, 256, 5, 11, 8, 2.0f},          // small heads, several positions per lane
      {6, 2, 6, 40, 30, 5, 7, 8, 2.0f},            // head_dim not a multiple of 4
      {8, 1, 64, 512, 200, 1, 150, 1, 2.0f},       // 8 heads per kv head
      {2, 1, 100, 200, 64, 4, 20, 4, 2.0f},        // chunks that do not fill the lanes
      {4, 4, 12, 48, 40, 1, 39, 1, 2.0f},          // multi-head (no grouping)
  };
  int index = 0;
  for (const Shape &s : shapes) {
    const int64_t width = s.kvHeads * s.headDim;
    KernelCase c;
    c.spec.family = "attention";
    c.spec.symbol = "seq_attention_" + std::to_string(index++);
    c.spec.ints["heads"] = s.heads;
    c.spec.ints["kv_heads"] = s.kvHeads;
    c.spec.ints["head_dim"] = s.headDim;
    c.spec.ints["q_stride"] = s.qStride;
    c.spec.ints["context"] = s.context;
    c.spec.floats["scale"] = s.headDim == 128 ? s128 : 1.0 / std::sqrt(double(s.headDim));
    c.rows = s.rows;
    c.pos = s.pos;
    c.maxRows = s.maxRows;
    c.name = "attention " + std::to_string(s.heads) + "/" + std::to_string(s.kvHeads) + "x" +
             std::to_string(s.headDim) + " rows " + std::to_string(s.rows) + " pos " +
             std::to_string(s.pos);
    c.bindings = {randomF32Bytes(rng, strided(s.rows, s.heads * s.headDim, s.qStride), s.qScale),
                  randomF32Bytes(rng, size_t(s.context * width), 1.0f),
                  randomF32Bytes(rng, size_t(s.context * width), 1.0f),
                  poisonedBytes(size_t(s.rows * s.heads * s.headDim) * 4)};
    // exp is ex2.approx (relative error ~2^-22) and sums are f32; the reference is double.
    c.outputs = {{3, Compare::Float32, 1e-5}};
    cases.push_back(std::move(c));
  }
}

// rope_kv_attention (decode): x holds q and k unrotated and must stay so; the key cache gets
// the rotated k and the value cache v at the query's position, the earlier rows must survive.
void addRopeKVAttentionCases(std::mt19937 &rng, std::vector<KernelCase> &cases) {
  struct Shape {
    int64_t heads, kvHeads, headDim, stride, vStride, context, pos;
    const char *style;
    float qScale;
  };
  const Shape shapes[] = {
      {20, 5, 128, 3840, 3840, 4096, 0, "neox", 1.0f},   // 2B-4T, the first token
      {20, 5, 128, 3840, 3840, 4096, 255, "neox", 4.0f}, // after a prompt
      {20, 5, 128, 3840, 3840, 4096, 1000, "normal", 2.0f},
      {20, 5, 128, 3840, 3840, 4096, 4095, "neox", 2.0f}, // the last position
      {8, 2, 16, 256, 256, 256, 100, "neox", 2.0f},       // hf-bitnet tiny_b: one lane a head
      {8, 4, 8, 192, 192, 512, 300, "normal", 2.0f},      // stories260K: two chunks a head
      {4, 4, 32, 300, 128, 64, 63, "neox", 2.0f},         // multi-head, separate v
  };
  int index = 0;
  for (const Shape &s : shapes) {
    const int64_t width = s.kvHeads * s.headDim;
    KernelCase c;
    c.spec.family = "rope_kv_attention";
    c.spec.symbol = "seq_rope_kv_attention_" + std::to_string(index++);
    c.spec.ints = {{"heads", s.heads},   {"kv_heads", s.kvHeads}, {"head_dim", s.headDim},
                   {"stride", s.stride}, {"v_stride", s.vStride}, {"context", s.context}};
    c.spec.floats["scale"] = 1.0 / std::sqrt(double(s.headDim));
    c.spec.strings["style"] = s.style;
    c.rows = 1;
    c.pos = s.pos;
    c.maxRows = 1;
    c.name = std::string("rope_kv_attention ") + s.style + " " + std::to_string(s.heads) + "/" +
             std::to_string(s.kvHeads) + "x" + std::to_string(s.headDim) + " pos " +
             std::to_string(s.pos);
    c.bindings = {randomF32Bytes(rng, size_t((s.heads + s.kvHeads) * s.headDim), s.qScale),
                  ropeTable(s.context, s.headDim, 500000.0),
                  randomF32Bytes(rng, size_t(width), 1.0f),
                  randomF32Bytes(rng, size_t(s.context * width), 1.0f),
                  randomF32Bytes(rng, size_t(s.context * width), 1.0f),
                  poisonedBytes(size_t(s.heads * s.headDim) * 4)};
    c.outputs = {{0, Compare::Exact},
                 {3, Compare::Float32, 1e-6},
                 {4, Compare::Exact},
                 {5, Compare::Float32, 1e-5}};
    cases.push_back(std::move(c));
  }
}

} // namespace

std::vector<KernelCase> sequenceCases(std::mt19937 &rng) {
  std::vector<KernelCase> cases;
  addEmbeddingCases(rng, cases);
  addPositionEmbeddingCases(rng, cases);
  addRopeCases(rng, cases);
  addKVCacheWriteCases(rng, cases);
  addRopeKVCacheWriteCases(rng, cases);
  addAttentionCases(rng, cases);
  addRopeKVAttentionCases(rng, cases);
  return cases;
}

} // namespace tern::gpu::test
