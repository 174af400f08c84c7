// Maps each kernel family's descriptor and bindings onto the reference twins.
#include "reference/ReferenceDispatch.h"

#include "packing/QuantizedPacking.h"
#include "packing/TernaryPacking.h"
#include "reference/ReferenceKernels.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

namespace tern {
namespace {

enum class Family {
  Embedding,
  PositionEmbedding,
  RmsNorm,
  LayerNorm,
  RmsNormQuantize,
  QuantizeAct,
  TernaryMatmul,
  Matmul,
  QuantizedMatmul,
  Rope,
  KVCacheWrite,
  RopeKVCacheWrite,
  Attention,
  RopeKVAttention,
  Add,
  Mul,
  BiasAdd,
  Relu,
  Relu2,
  Silu,
  Gelu,
  Glu,
};

struct FamilyName {
  const char *name;
  Family family;
};
constexpr FamilyName kFamilies[] = {
    {"embedding", Family::Embedding},
    {"position_embedding", Family::PositionEmbedding},
    {"rms_norm", Family::RmsNorm},
    {"layer_norm", Family::LayerNorm},
    {"rms_norm_quantize", Family::RmsNormQuantize},
    {"quantize_act", Family::QuantizeAct},
    {"ternary_matmul", Family::TernaryMatmul},
    {"matmul", Family::Matmul},
    {"quantized_matmul", Family::QuantizedMatmul},
    {"rope", Family::Rope},
    {"kv_cache_write", Family::KVCacheWrite},
    {"rope_kv_cache_write", Family::RopeKVCacheWrite},
    {"attention", Family::Attention},
    {"rope_kv_attention", Family::RopeKVAttention},
    {"add", Family::Add},
    {"mul", Family::Mul},
    {"bias_add", Family::BiasAdd},
    {"relu", Family::Relu},
    {"relu2", Family::Relu2},
    {"silu", Family::Silu},
    {"gelu", Family::Gelu},
    {"glu", Family::Glu},
};

// Element types of float tables and matrices; Q8B32, Q4B32 and Q6B32 are the block-quantized
// layouts of packing/QuantizedPacking.h (embedding tables only; the matmul family reads the
// first four).
enum class DType { F32, F16, BF16, Q8_0, Q8B32, Q4B32, Q6B32 };

// The block-quantized layout |dtype| names, if it is one.
bool quantizedDType(DType dtype, packing::QuantFormat *format) {
  switch (dtype) {
  case DType::Q8B32:
    *format = packing::QuantFormat::Q8B32;
    return true;
  case DType::Q4B32:
    *format = packing::QuantFormat::Q4B32;
    return true;
  case DType::Q6B32:
    *format = packing::QuantFormat::Q6B32;
    return true;
  default:
    return false;
  }
}
enum class Act { SiLU, ReLU2, GELU };

constexpr int64_t kQ8Block = 32;      // weights per q8_0 block
constexpr int64_t kQ8BlockBytes = 34; // f16 scale + 32 int8

// Every parameter any family has, parsed and checked once.
struct Parsed {
  Family family = Family::Add;
  int64_t width = 0, vocab = 0, positions = 0, n = 0, k = 0, nBlock = 1, xStride = 0;
  int64_t heads = 0, kvHeads = 0, headDim = 0, stride = 0, kStride = 0, vStride = 0;
  int64_t qStride = 0, inStride = 0, context = 0;
  double eps = 0, scale = 0;
  DType dtype = DType::F32;
  packing::TernaryLayout packing = packing::TernaryLayout::I2B128;
  packing::QuantFormat format = packing::QuantFormat::Q8B32;
  bool neox = false, divideByScale = false, bias = false;
  bool residual = false; // rms_norm(_quantize) with a fused residual add: x, residual, w, ...
  bool gated = false; // rms_norm(_quantize) of act(gate) * up: gate, up, w, ... (inStride)
  Act activation = Act::SiLU;
  int64_t grid = 1;
  bool itemsAreRows = false; // row_items given: work item i is row i (isRowWiseFamily)
};

__attribute__((format(printf, 3, 4))) tern_status_t fail(tern_status_code_t code,
                                                         const KernelSpec &spec,
                                                         const char *format, ...) {
  char detail[400];
  va_list args;
  va_start(args, format);
  std::vsnprintf(detail, sizeof(detail), format, args);
  va_end(args);
  std::string message = "kernel '" + spec.symbol + "' (family '" + spec.family + "'): " + detail;
  return tern_status_create(code, message.c_str());
}

// Reads parameters, remembering the first problem so parse() can report it.
class ParamReader {
public:
  explicit ParamReader(const KernelSpec &spec) : spec_(spec) {}

  int64_t integer(const char *name, int64_t min = 1) {
    auto it = spec_.ints.find(name);
    if (it == spec_.ints.end()) {
      note("missing integer parameter '%s'", name);
      return min;
    }
    if (it->second < min) {
      note("parameter '%s' is %lld, expected at least %lld", name, (long long)it->second,
           (long long)min);
      return min;
    }
    return it->second;
  }
  double real(const char *name) {
    auto it = spec_.floats.find(name);
    if (it == spec_.floats.end()) {
      note("missing float parameter '%s'", name);
      return 0;
    }
    return it->second;
  }
  // Index of the parameter's value in |choices| (a null-terminated list).
  int choice(const char *name, const char *const *choices) {
    auto it = spec_.strings.find(name);
    if (it == spec_.strings.end()) {
      note("missing string parameter '%s'", name);
      return 0;
    }
    std::string allowed;
    for (int i = 0; choices[i]; ++i) {
      if (it->second == choices[i])
        return i;
      allowed += std::string(i ? ", " : "") + choices[i];
    }
    note("parameter '%s' is '%s', expected one of: %s", name, it->second.c_str(),
         allowed.c_str());
    return 0;
  }
  __attribute__((format(printf, 2, 3))) void note(const char *format, ...) {
    if (!problem_.empty())
      return;
    char detail[300];
    va_list args;
    va_start(args, format);
    std::vsnprintf(detail, sizeof(detail), format, args);
    va_end(args);
    problem_ = detail;
  }
  const std::string &problem() const { return problem_; }

private:
  const KernelSpec &spec_;
  std::string problem_;
};

constexpr const char *kDTypes[] = {"f32", "f16", "bf16", "q8_0", nullptr};
constexpr const char *kTableDTypes[] = {"f32",    "f16",    "bf16",   "q8_0",
                                        "q8_b32", "q4_b32", "q6_b32", nullptr};
constexpr const char *kQuantFormats[] = {"q8_b32", "q4_b32", "q6_b32", nullptr};
constexpr const char *kActivations[] = {"silu", "relu2", "gelu", nullptr};
constexpr const char *kRopeStyles[] = {"normal", "neox", nullptr};

tern_status_t parse(const KernelSpec &spec, Parsed *p) {
  bool known = false;
  for (const FamilyName &f : kFamilies)
    if (spec.family == f.name) {
      p->family = f.family;
      known = true;
    }
  if (!known)
    return fail(TERN_STATUS_INVALID_ARGUMENT, spec,
                "unknown kernel family (docs/kernels.md lists the families)");
  ParamReader r(spec);
  switch (p->family) {
  case Family::Embedding:
    p->vocab = r.integer("vocab");
    p->width = r.integer("width");
    p->dtype = DType(r.choice("dtype", kTableDTypes));
    if ((p->dtype == DType::Q8_0 || quantizedDType(p->dtype, &p->format)) &&
        p->width % kQ8Block)
      r.note("%s rows need a width that is a multiple of 32, got %lld",
             kTableDTypes[int(p->dtype)], (long long)p->width);
    break;
  case Family::PositionEmbedding:
    p->positions = r.integer("positions");
    p->width = r.integer("width");
    p->dtype = DType(r.choice("dtype", kDTypes));
    if (p->dtype == DType::Q8_0 && p->width % kQ8Block)
      r.note("q8_0 rows need a width that is a multiple of 32, got %lld", (long long)p->width);
    break;
  case Family::RmsNorm:
  case Family::RmsNormQuantize: {
    p->width = r.integer("width");
    p->eps = r.real("eps");
    // Optional: kernels without a fused residual add leave it out.
    const int64_t residual = spec.ints.count("residual") ? r.integer("residual", 0) : 0;
    if (residual != 0 && residual != 1)
      r.note("parameter 'residual' is %lld, expected 0 or 1", (long long)residual);
    p->residual = residual == 1;
    // Optional too: a fused glu (tern-fuse-glu-norm) reads gate and up like the glu family.
    const int64_t gated = spec.ints.count("gated") ? r.integer("gated", 0) : 0;
    if (gated != 0 && gated != 1)
      r.note("parameter 'gated' is %lld, expected 0 or 1", (long long)gated);
    p->gated = gated == 1;
    if (p->gated) {
      if (p->residual)
        r.note("a norm has a residual or a gated input, not both");
      p->activation = Act(r.choice("activation", kActivations));
      if (p->activation != Act::ReLU2)
        r.note("a gated norm computes relu2 only");
      p->inStride = r.integer("in_stride", p->width);
    }
    break;
  }
  case Family::LayerNorm: {
    p->width = r.integer("width");
    p->eps = r.real("eps");
    const int64_t bias = r.integer("bias", 0);
    if (bias > 1)
      r.note("parameter 'bias' is %lld, expected 0 or 1", (long long)bias);
    p->bias = bias == 1;
    break;
  }
  case Family::BiasAdd:
    p->width = r.integer("width");
    p->xStride = r.integer("x_stride", p->width);
    break;
  case Family::QuantizeAct:
  case Family::Add:
  case Family::Mul:
  case Family::Relu:
  case Family::Relu2:
  case Family::Silu:
  case Family::Gelu:
    p->width = r.integer("width");
    break;
  case Family::Glu:
    p->width = r.integer("width");
    p->activation = Act(r.choice("activation", kActivations));
    p->inStride = r.integer("in_stride", p->width);
    break;
  case Family::TernaryMatmul: {
    p->n = r.integer("n");
    p->k = r.integer("k");
    p->nBlock = r.integer("n_block");
    p->divideByScale = r.integer("divide_by_scale", 0) != 0;
    auto it = spec.strings.find("packing");
    if (it == spec.strings.end())
      r.note("missing string parameter 'packing'");
    else if (!packing::ternaryLayoutFromName(it->second.c_str(), &p->packing))
      r.note("parameter 'packing' is '%s', an unknown ternary layout", it->second.c_str());
    break;
  }
  case Family::Matmul:
    p->n = r.integer("n");
    p->k = r.integer("k");
    p->nBlock = r.integer("n_block");
    p->dtype = DType(r.choice("dtype", kDTypes));
    p->xStride = r.integer("x_stride", p->k);
    if (p->dtype == DType::Q8_0 && p->k % kQ8Block)
      r.note("q8_0 weights need k to be a multiple of 32, got %lld", (long long)p->k);
    break;
  case Family::QuantizedMatmul:
    p->n = r.integer("n");
    p->k = r.integer("k");
    p->nBlock = r.integer("n_block");
    packing::quantFormatFromName(kQuantFormats[r.choice("format", kQuantFormats)], &p->format);
    if (!packing::quantSupportsWidth(p->k))
      r.note("%s weights need k to be a multiple of %lld, got %lld",
             packing::quantFormatName(p->format), (long long)packing::kQuantBlock,
             (long long)p->k);
    break;
  case Family::Rope:
  case Family::RopeKVCacheWrite: // rope's parameters, kv_heads and v_stride
    p->heads = r.integer("heads");
    p->headDim = r.integer("head_dim");
    p->stride = r.integer("stride", p->heads * p->headDim);
    p->neox = r.choice("style", kRopeStyles) == 1;
    p->context = r.integer("context");
    if (p->headDim % 2)
      r.note("parameter 'head_dim' is %lld, rope needs it even", (long long)p->headDim);
    if (p->family == Family::Rope)
      break;
    // k is the last kv_heads heads of the rotated x: read with x's stride.
    p->kvHeads = r.integer("kv_heads");
    p->kStride = p->stride;
    p->vStride = r.integer("v_stride", p->kvHeads * p->headDim);
    if (p->kvHeads > p->heads)
      r.note("parameter 'kv_heads' (%lld) is more than 'heads' (%lld), which include them",
             (long long)p->kvHeads, (long long)p->heads);
    break;
  case Family::KVCacheWrite:
    p->kvHeads = r.integer("kv_heads");
    p->headDim = r.integer("head_dim");
    p->kStride = r.integer("k_stride", p->kvHeads * p->headDim);
    p->vStride = r.integer("v_stride", p->kvHeads * p->headDim);
    p->context = r.integer("context");
    break;
  case Family::Attention:
    p->heads = r.integer("heads");
    p->kvHeads = r.integer("kv_heads");
    p->headDim = r.integer("head_dim");
    p->qStride = r.integer("q_stride", p->heads * p->headDim);
    p->context = r.integer("context");
    p->scale = r.real("scale");
    if (p->heads % p->kvHeads)
      r.note("parameter 'heads' (%lld) is not a multiple of 'kv_heads' (%lld)",
             (long long)p->heads, (long long)p->kvHeads);
    p->grid = p->heads;
    break;
  case Family::RopeKVAttention: // rope_kv_cache_write's layout, then attention; one item
    p->heads = r.integer("heads");
    p->kvHeads = r.integer("kv_heads");
    p->headDim = r.integer("head_dim");
    p->stride = r.integer("stride", (p->heads + p->kvHeads) * p->headDim);
    p->vStride = r.integer("v_stride", p->kvHeads * p->headDim);
    p->neox = r.choice("style", kRopeStyles) == 1;
    p->context = r.integer("context");
    p->scale = r.real("scale");
    if (p->headDim % 2)
      r.note("parameter 'head_dim' is %lld, rope needs it even", (long long)p->headDim);
    if (p->heads % p->kvHeads)
      r.note("parameter 'heads' (%lld) is not a multiple of 'kv_heads' (%lld)", (long long)p->heads,
             (long long)p->kvHeads);
    if (p->stride < (p->heads + p->kvHeads) * p->headDim)
      r.note("parameter 'stride' (%lld) is less than (heads + kv_heads) * head_dim",
             (long long)p->stride);
    break;
  }
  if (spec.ints.count("row_items")) {
    if (!isRowWiseFamily(spec.family))
      r.note("parameter 'row_items' is for row-wise families (norms, quantize_act, rope, "
             "kv_cache_write)");
    p->grid = r.integer("row_items");
    p->itemsAreRows = true;
  }
  if (p->family == Family::TernaryMatmul || p->family == Family::Matmul ||
      p->family == Family::QuantizedMatmul) {
    if (p->n % p->nBlock)
      r.note("parameter 'n' (%lld) is not a multiple of 'n_block' (%lld)", (long long)p->n,
             (long long)p->nBlock);
    p->grid = p->n / p->nBlock;
  }
  if (!r.problem().empty())
    return fail(TERN_STATUS_INVALID_ARGUMENT, spec, "%s", r.problem().c_str());
  return nullptr;
}

uint64_t rowBytes(DType dtype, int64_t width) {
  switch (dtype) {
  case DType::Q8B32:
  case DType::Q4B32:
  case DType::Q6B32:
    break; // no per-row size: a codes plane and a scale plane (tableBytes)
  case DType::F32:
    return uint64_t(width) * 4;
  case DType::F16:
  case DType::BF16:
    return uint64_t(width) * 2;
  case DType::Q8_0:
    return uint64_t(width / kQ8Block) * kQ8BlockBytes;
  }
  return 0;
}

// Bytes of a (rows, width) table or matrix stored as |dtype|.
uint64_t tableBytes(DType dtype, int64_t rows, int64_t width) {
  packing::QuantFormat format;
  if (quantizedDType(dtype, &format))
    return uint64_t(packing::quantPackedBytes(format, rows, width));
  return uint64_t(rows) * rowBytes(dtype, width);
}

// Floats spanned by |rows| rows of |width| read with |stride|.
uint64_t strided(int64_t rows, int64_t width, int64_t stride) {
  return rows == 0 ? 0 : uint64_t((rows - 1) * stride + width) * 4;
}

std::vector<uint64_t> bindingBytes(const Parsed &p, int64_t rows) {
  const uint64_t r = uint64_t(rows);
  const uint64_t act = r * uint64_t(p.width) * 4;
  switch (p.family) {
  case Family::Embedding:
    return {tableBytes(p.dtype, p.vocab, p.width), r * 4, act};
  case Family::PositionEmbedding:
    return {tableBytes(p.dtype, p.positions, p.width), act};
  case Family::RmsNorm:
    if (p.gated)
      return {strided(rows, p.width, p.inStride), strided(rows, p.width, p.inStride),
              uint64_t(p.width) * 4, act};
    if (p.residual)
      return {act, act, uint64_t(p.width) * 4, act, act};
    return {act, uint64_t(p.width) * 4, act};
  case Family::LayerNorm:
    if (p.bias)
      return {act, uint64_t(p.width) * 4, uint64_t(p.width) * 4, act};
    return {act, uint64_t(p.width) * 4, act};
  case Family::RmsNormQuantize:
    if (p.gated)
      return {strided(rows, p.width, p.inStride), strided(rows, p.width, p.inStride),
              uint64_t(p.width) * 4, r * p.width, r * 4};
    if (p.residual)
      return {act, act, uint64_t(p.width) * 4, r * p.width, r * 4, act};
    return {act, uint64_t(p.width) * 4, r * p.width, r * 4};
  case Family::QuantizeAct:
    return {act, r * p.width, r * 4};
  case Family::TernaryMatmul:
    return {r * p.k, r * 4, uint64_t(packing::packedBytes(p.packing, p.n, p.k)),
            uint64_t(p.n) * 4, r * p.n * 4};
  case Family::Matmul:
    return {strided(rows, p.k, p.xStride), uint64_t(p.n) * rowBytes(p.dtype, p.k), r * p.n * 4};
  case Family::QuantizedMatmul:
    return {r * p.k, r * 4, uint64_t(packing::quantPackedBytes(p.format, p.n, p.k)),
            r * p.n * 4};
  case Family::Rope:
    return {strided(rows, p.heads * p.headDim, p.stride), uint64_t(p.context * p.headDim) * 4};
  case Family::KVCacheWrite: {
    const int64_t width = p.kvHeads * p.headDim;
    const uint64_t cache = uint64_t(p.context * width) * 4;
    return {strided(rows, width, p.kStride), strided(rows, width, p.vStride), cache, cache};
  }
  case Family::RopeKVCacheWrite: {
    const uint64_t cache = uint64_t(p.context * p.kvHeads * p.headDim) * 4;
    return {strided(rows, p.heads * p.headDim, p.stride), uint64_t(p.context * p.headDim) * 4,
            strided(rows, p.kvHeads * p.headDim, p.vStride), cache, cache};
  }
  case Family::Attention: {
    const uint64_t cache = uint64_t(p.context * p.kvHeads * p.headDim) * 4;
    return {strided(rows, p.heads * p.headDim, p.qStride), cache, cache,
            r * p.heads * p.headDim * 4};
  }
  case Family::RopeKVAttention: {
    const uint64_t cache = uint64_t(p.context * p.kvHeads * p.headDim) * 4;
    return {strided(rows, (p.heads + p.kvHeads) * p.headDim, p.stride),
            uint64_t(p.context * p.headDim) * 4,
            strided(rows, p.kvHeads * p.headDim, p.vStride),
            cache,
            cache,
            r * p.heads * p.headDim * 4};
  }
  case Family::Add:
  case Family::Mul:
    return {act, act, act};
  case Family::BiasAdd:
    return {strided(rows, p.width, p.xStride), uint64_t(p.width) * 4, act};
  case Family::Relu:
  case Family::Relu2:
  case Family::Silu:
  case Family::Gelu:
    return {act, act};
  case Family::Glu:
    return {strided(rows, p.width, p.inStride), strided(rows, p.width, p.inStride), act};
  }
  return {};
}

float halfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff, bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13); // inf / nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else { // subnormal: normalise the mantissa
    exponent = 113;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Decodes rows [rowBegin, rowEnd) of a (rows, width) matrix stored as |dtype| into |out|.
void decodeRows(DType dtype, const uint8_t *data, int64_t rows, int64_t width, int64_t rowBegin,
                int64_t rowEnd, float *out) { // out: (rowEnd - rowBegin, width)
  packing::QuantFormat format;
  if (quantizedDType(dtype, &format)) {
    packing::dequantizeRows(format, data, rows, width, rowBegin, rowEnd, out);
    return;
  }
  const uint64_t bytes = rowBytes(dtype, width);
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
    const uint8_t *src = data + uint64_t(row) * bytes;
    float *dst = out + (row - rowBegin) * width;
    switch (dtype) {
    case DType::F32:
      std::memcpy(dst, src, bytes);
      break;
    case DType::F16:
      for (int64_t i = 0; i < width; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = halfToFloat(h);
      }
      break;
    case DType::BF16:
      for (int64_t i = 0; i < width; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        uint32_t bits = uint32_t(h) << 16;
        std::memcpy(dst + i, &bits, 4);
      }
      break;
    case DType::Q8_0:
      for (int64_t b = 0; b < width / kQ8Block; ++b) {
        const uint8_t *block = src + b * kQ8BlockBytes;
        uint16_t h;
        std::memcpy(&h, block, 2);
        const float d = halfToFloat(h);
        for (int64_t i = 0; i < kQ8Block; ++i)
          dst[b * kQ8Block + i] = d * float(int8_t(block[2 + i]));
      }
      break;
    case DType::Q8B32:
    case DType::Q4B32:
    case DType::Q6B32:
      break; // handled above
    }
  }
}

// Copies |rows| rows of |width| floats read with |stride| into a dense (rows, width) buffer.
std::vector<float> gatherRows(const float *x, int64_t rows, int64_t width, int64_t stride) {
  std::vector<float> dense(size_t(rows * width));
  for (int64_t t = 0; t < rows; ++t)
    std::memcpy(dense.data() + t * width, x + t * stride, sizeof(float) * width);
  return dense;
}

void activate(Act activation, const float *x, int64_t n, float *out) {
  switch (activation) {
  case Act::SiLU:
    ref::silu(x, n, out);
    break;
  case Act::ReLU2:
    ref::relu2(x, n, out);
    break;
  case Act::GELU:
    ref::gelu(x, n, out);
    break;
  }
}

// act(gate) * up for |rows| rows of gate and up read with p.inStride, contiguous: the glu
// family, and the input of a gated norm (tern-fuse-glu-norm), computed the same way.
std::vector<float> gluRows(const Parsed &p, const float *gate, const float *up, int64_t rows) {
  const int64_t w = p.width;
  std::vector<float> product(size_t(rows * w));
  for (int64_t t = 0; t < rows; ++t) {
    float *out = product.data() + t * w;
    activate(p.activation, gate + t * p.inStride, w, out);
    ref::mul(out, up + t * p.inStride, w, out);
  }
  return product;
}

} // namespace

tern_status_t describeReferenceKernel(const KernelSpec &spec, int64_t rows,
                                      ReferenceKernelShape *out) {
  Parsed p;
  if (tern_status_t status = parse(spec, &p))
    return status;
  out->gridItems = p.grid;
  out->itemsAreRows = p.itemsAreRows;
  out->bindingBytes = bindingBytes(p, rows);
  return nullptr;
}

tern_status_t runReferenceKernel(const KernelSpec &spec, void *const *bindings, int64_t rows,
                                 int64_t pos, int64_t begin, int64_t end) {
  Parsed p;
  if (tern_status_t status = parse(spec, &p))
    return status;
  if (rows < 1 || pos < 0)
    return fail(TERN_STATUS_INVALID_ARGUMENT, spec, "rows %lld and pos %lld: expected rows >= 1 "
                "and pos >= 0", (long long)rows, (long long)pos);
  if (begin < 0 || begin > end || end > p.grid)
    return fail(TERN_STATUS_INVALID_ARGUMENT, spec,
                "work items [%lld, %lld) are not a slice of the grid's %lld", (long long)begin,
                (long long)end, (long long)p.grid);
  if (p.context && pos + rows > p.context)
    return fail(TERN_STATUS_OUT_OF_RANGE, spec,
                "positions %lld..%lld pass the kernel's context of %lld", (long long)pos,
                (long long)(pos + rows - 1), (long long)p.context);
  if (begin == end)
    return nullptr;
  // Row items: the twin computes every row in the slice that holds row 0 (its loops take
  // whole calls); the other slices have nothing left to do.
  if (p.itemsAreRows && begin > 0)
    return nullptr;
  auto in = [&](int i) { return static_cast<const float *>(bindings[i]); };
  auto outF = [&](int i) { return static_cast<float *>(bindings[i]); };
  const int64_t w = p.width;

  switch (p.family) {
  case Family::Embedding: {
    const auto *tokens = static_cast<const int32_t *>(bindings[1]);
    for (int64_t t = 0; t < rows; ++t)
      if (tokens[t] < 0 || tokens[t] >= p.vocab)
        return fail(TERN_STATUS_OUT_OF_RANGE, spec, "token id %d at row %lld is outside the "
                    "vocabulary of %lld", tokens[t], (long long)t, (long long)p.vocab);
    if (p.dtype == DType::F32) {
      ref::embedding(in(0), tokens, rows, w, outF(2));
    } else {
      for (int64_t t = 0; t < rows; ++t)
        decodeRows(p.dtype, static_cast<const uint8_t *>(bindings[0]), p.vocab, w, tokens[t],
                   tokens[t] + 1, outF(2) + t * w);
    }
    break;
  }
  case Family::PositionEmbedding: {
    if (pos + rows > p.positions)
      return fail(TERN_STATUS_OUT_OF_RANGE, spec, "positions %lld..%lld pass the table's %lld "
                  "rows", (long long)pos, (long long)(pos + rows - 1), (long long)p.positions);
    if (p.dtype == DType::F32)
      ref::positionEmbedding(in(0), pos, rows, w, outF(1));
    else
      decodeRows(p.dtype, static_cast<const uint8_t *>(bindings[0]), p.positions, w, pos,
                 pos + rows, outF(1));
    break;
  }
  case Family::RmsNorm:
    if (p.gated) {
      // gate, up, w, y: the glu family's product, then the norm.
      std::vector<float> gated = gluRows(p, in(0), in(1), rows);
      ref::rmsNorm(gated.data(), in(2), rows, w, float(p.eps), outF(3));
      break;
    }
    if (p.residual) {
      // x, residual, w, y, sum: the sum (which may overwrite x or the residual) first.
      ref::add(in(0), in(1), rows * w, outF(4));
      ref::rmsNorm(in(4), in(2), rows, w, float(p.eps), outF(3));
      break;
    }
    ref::rmsNorm(in(0), in(1), rows, w, float(p.eps), outF(2));
    break;
  case Family::LayerNorm:
    ref::layerNorm(in(0), in(1), p.bias ? in(2) : nullptr, rows, w, float(p.eps),
                   outF(p.bias ? 3 : 2));
    break;
  case Family::RmsNormQuantize: {
    // x, [residual,] w, q, qscale[, sum]: the sum (which may overwrite x or the residual)
    // first.
    // gated: gate, up, w, q, qscale, the glu family's product normalized.
    const int r = p.residual || p.gated ? 1 : 0;
    if (p.residual)
      ref::add(in(0), in(1), rows * w, outF(5));
    std::vector<float> gated = p.gated ? gluRows(p, in(0), in(1), rows) : std::vector<float>();
    std::vector<float> normed(size_t(rows * w));
    ref::rmsNorm(p.residual ? in(5) : p.gated ? gated.data() : in(0), in(1 + r), rows, w,
                 float(p.eps), normed.data());
    ref::quantizeActivations(normed.data(), rows, w, static_cast<int8_t *>(bindings[2 + r]),
                             outF(3 + r));
    break;
  }
  case Family::QuantizeAct:
    ref::quantizeActivations(in(0), rows, w, static_cast<int8_t *>(bindings[1]), outF(2));
    break;
  case Family::TernaryMatmul: {
    const int64_t c0 = begin * p.nBlock, c1 = end * p.nBlock, cols = c1 - c0;
    std::vector<int8_t> weights(size_t(cols * p.k));
    packing::unpackTernary(p.packing, static_cast<const uint8_t *>(bindings[2]), p.k, c0, c1,
                           weights.data());
    std::vector<float> y(size_t(rows * cols));
    // A scale group of k weights is exactly one output row: the per-row wscale array.
    ref::ternaryMatmul(static_cast<const int8_t *>(bindings[0]), in(1), weights.data(),
                       in(3) + c0, p.k, p.divideByScale, rows, cols, p.k, y.data());
    for (int64_t t = 0; t < rows; ++t)
      std::memcpy(outF(4) + t * p.n + c0, y.data() + t * cols, sizeof(float) * cols);
    break;
  }
  case Family::Matmul: {
    const int64_t c0 = begin * p.nBlock, c1 = end * p.nBlock, cols = c1 - c0;
    std::vector<float> weights(size_t(cols * p.k));
    decodeRows(p.dtype, static_cast<const uint8_t *>(bindings[1]), p.n, p.k, c0, c1,
               weights.data());
    std::vector<float> x = gatherRows(in(0), rows, p.k, p.xStride);
    std::vector<float> y(size_t(rows * cols));
    ref::matmul(x.data(), weights.data(), rows, cols, p.k, y.data());
    for (int64_t t = 0; t < rows; ++t)
      std::memcpy(outF(2) + t * p.n + c0, y.data() + t * cols, sizeof(float) * cols);
    break;
  }
  case Family::QuantizedMatmul: {
    const int64_t c0 = begin * p.nBlock, c1 = end * p.nBlock, cols = c1 - c0;
    const int64_t blocks = p.k / packing::kQuantBlock;
    std::vector<int8_t> codes(size_t(cols * p.k));
    std::vector<float> scales(size_t(cols * blocks));
    packing::unpackQuantized(p.format, static_cast<const uint8_t *>(bindings[2]), p.n, p.k, c0,
                             c1, codes.data(), scales.data());
    std::vector<float> y(size_t(rows * cols));
    ref::quantizedMatmul(static_cast<const int8_t *>(bindings[0]), in(1), codes.data(),
                         scales.data(), packing::kQuantBlock, rows, cols, p.k, y.data());
    for (int64_t t = 0; t < rows; ++t)
      std::memcpy(outF(3) + t * p.n + c0, y.data() + t * cols, sizeof(float) * cols);
    break;
  }
  case Family::Rope:
    ref::ropeFromTable(outF(0), rows, p.heads, p.headDim, p.stride, pos, in(1), p.neox);
    break;
  case Family::RopeKVCacheWrite: {
    // x, table, v, caches: the rope, then k (x's last kv_heads heads, rotated) and v.
    ref::ropeFromTable(outF(0), rows, p.heads, p.headDim, p.stride, pos, in(1), p.neox);
    const ref::KVCacheLayout layer{1, p.context, p.kvHeads, p.headDim};
    const float *k = in(0) + (p.heads - p.kvHeads) * p.headDim;
    for (int64_t t = 0; t < rows; ++t)
      ref::kvCacheWrite(layer, outF(3), outF(4), 0, pos + t, 1, k + t * p.stride,
                        in(2) + t * p.vStride);
    break;
  }
  case Family::KVCacheWrite: {
    // One layer's cache: a layout of a single layer whose rows are kv_heads * head_dim wide.
    const ref::KVCacheLayout layer{1, p.context, p.kvHeads, p.headDim};
    for (int64_t t = 0; t < rows; ++t)
      ref::kvCacheWrite(layer, outF(2), outF(3), 0, pos + t, 1, in(0) + t * p.kStride,
                        in(1) + t * p.vStride);
    break;
  }
  case Family::RopeKVAttention: {
    // x, table, v, caches, out: rope_kv_cache_write on a copy of q and k (x stays as it is),
    // then attention over the caches with the rotated q.
    const int64_t qk = (p.heads + p.kvHeads) * p.headDim;
    std::vector<float> rotated(size_t(rows * qk));
    for (int64_t t = 0; t < rows; ++t)
      std::copy(in(0) + t * p.stride, in(0) + t * p.stride + qk, rotated.begin() + t * qk);
    ref::ropeFromTable(rotated.data(), rows, p.heads + p.kvHeads, p.headDim, qk, pos, in(1),
                       p.neox);
    const ref::KVCacheLayout layer{1, p.context, p.kvHeads, p.headDim};
    for (int64_t t = 0; t < rows; ++t)
      ref::kvCacheWrite(layer, outF(3), outF(4), 0, pos + t, 1,
                        rotated.data() + t * qk + p.heads * p.headDim, in(2) + t * p.vStride);
    std::vector<double> scratch(size_t(pos + rows));
    ref::attentionHeads(outF(3), outF(4), p.kvHeads, p.headDim, p.heads, 0, p.heads, pos, rows,
                        float(p.scale), rotated.data(), qk, scratch.data(), outF(5));
    break;
  }
  case Family::Attention: {
    std::vector<double> scratch(size_t(pos + rows));
    ref::attentionHeads(in(1), in(2), p.kvHeads, p.headDim, p.heads, begin, end, pos, rows,
                        float(p.scale), in(0), p.qStride, scratch.data(), outF(3));
    break;
  }
  case Family::Add:
    ref::add(in(0), in(1), rows * w, outF(2));
    break;
  case Family::Mul:
    ref::mul(in(0), in(1), rows * w, outF(2));
    break;
  case Family::BiasAdd:
    // Row by row: x may be a column view of a wider result (a fused QKV projection).
    for (int64_t t = 0; t < rows; ++t)
      ref::biasAdd(in(0) + t * p.xStride, in(1), 1, w, outF(2) + t * w);
    break;
  case Family::Relu:
    ref::relu(in(0), rows * w, outF(1));
    break;
  case Family::Relu2:
    ref::relu2(in(0), rows * w, outF(1));
    break;
  case Family::Silu:
    ref::silu(in(0), rows * w, outF(1));
    break;
  case Family::Gelu:
    ref::gelu(in(0), rows * w, outF(1));
    break;
  case Family::Glu: {
    std::vector<float> product = gluRows(p, in(0), in(1), rows);
    std::copy(product.begin(), product.end(), outF(2));
    break;
  }
  }
  return nullptr;
}

} // namespace tern
