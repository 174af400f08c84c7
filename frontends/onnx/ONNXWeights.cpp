// Re-lays ONNX initializers out as the tern importer reads weights.
#include "frontends/onnx/ONNXWeights.h"

#include "frontends/common/TensorDecode.h"

#include <cmath>
#include <cstring>

namespace tern::onnx {

WeightStore::WeightStore(std::string modelPath) : path(std::move(modelPath)) {}

const fe::TensorRecord *WeightStore::add(fe::TensorRecord record, std::vector<uint8_t> bytes) {
  storage->buffers.push_back(std::move(bytes));
  const std::vector<uint8_t> &buffer = storage->buffers.back();
  record.file = path;
  record.data = buffer.data();
  record.byteSize = buffer.size();
  // Offsets into the decoded view: unique per record, so passes that compare weights by
  // (name, offset, size) treat two records as the same tensor only when they are.
  record.fileOffset = nextOffset;
  nextOffset += buffer.size();
  records.push_back(std::move(record));
  byName[records.back().name] = &records.back();
  return &records.back();
}

static llvm::Expected<fe::DType> floatDType(const std::string &name, const Tensor &t) {
  switch (t.type()) {
  case ElemType::Float:
  case ElemType::Double:
    return fe::DType::F32;
  case ElemType::Float16:
    return fe::DType::F16;
  case ElemType::BFloat16:
    return fe::DType::BF16;
  default:
    return llvm::createStringError("initializer '%s' is %s; expected FLOAT, FLOAT16, BFLOAT16 or "
                                   "DOUBLE weights",
                                   name.c_str(), t.describe().c_str());
  }
}

// Element |i| of |t| in the record's storage type, appended to |out|.
static void appendElement(const Tensor &t, int64_t i, fe::DType dtype, std::vector<uint8_t> &out) {
  if (dtype == fe::DType::F32 && t.type() == ElemType::Double) {
    float f = static_cast<float>(t.getDouble(i));
    const uint8_t *p = reinterpret_cast<const uint8_t *>(&f);
    out.insert(out.end(), p, p + 4);
    return;
  }
  const size_t size = *elemSize(t.type());
  const uint8_t *p = t.bytes().data() + i * size;
  out.insert(out.end(), p, p + size);
}

llvm::Expected<const fe::TensorRecord *>
WeightStore::floatRecord(const std::string &recordName, const std::string &sourceName,
                         const Tensor &t, std::vector<int64_t> shape,
                         llvm::function_ref<int64_t(int64_t)> sourceIndex) {
  if (auto it = byName.find(recordName); it != byName.end())
    return it->second;
  auto dtype = floatDType(sourceName, t);
  if (!dtype)
    return dtype.takeError();
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  std::vector<uint8_t> bytes;
  bytes.reserve(count * 4);
  for (int64_t e = 0; e < count; ++e)
    appendElement(t, sourceIndex(e), *dtype, bytes);
  fe::TensorRecord r;
  r.name = recordName;
  r.dtype = *dtype;
  r.shape = std::move(shape);
  return add(std::move(r), std::move(bytes));
}

llvm::Expected<const fe::TensorRecord *> WeightStore::floatTensor(const std::string &name,
                                                                 const Tensor &t) {
  return floatRecord(name, name, t, t.shape(), [](int64_t e) { return e; });
}

llvm::Expected<const fe::TensorRecord *> WeightStore::linearWeight(const std::string &name,
                                                                  const Tensor &t, bool transposed,
                                                                  int64_t begin, int64_t end) {
  if (t.rank() != 2)
    return llvm::createStringError("initializer '%s' is %s; expected a 2-D weight matrix",
                                   name.c_str(), t.describe().c_str());
  // As stored: [in, out] for MatMul (|transposed|), [out, in] for Gemm with transB.
  const int64_t out = transposed ? t.shape()[1] : t.shape()[0];
  const int64_t in = transposed ? t.shape()[0] : t.shape()[1];
  if (end < 0)
    end = out;
  if (begin < 0 || end > out || begin >= end)
    return llvm::createStringError("initializer '%s' (%s): output features %lld..%lld are out of "
                                   "range",
                                   name.c_str(), t.describe().c_str(), (long long)begin,
                                   (long long)end);
  std::string recordName = name;
  if (begin != 0 || end != out)
    recordName += "[" + std::to_string(begin) + ":" + std::to_string(end) + "]";
  return floatRecord(recordName, name, t, {end - begin, in}, [&](int64_t e) {
    const int64_t o = begin + e / in, i = e % in;
    return transposed ? i * out + o : o * in + i;
  });
}

llvm::Expected<const fe::TensorRecord *> WeightStore::vectorSlice(const std::string &name,
                                                                 const Tensor &t, int64_t begin,
                                                                 int64_t end) {
  if (t.rank() != 1 || begin < 0 || end > t.shape()[0] || begin >= end)
    return llvm::createStringError("initializer '%s' (%s): expected a vector with elements "
                                   "%lld..%lld",
                                   name.c_str(), t.describe().c_str(), (long long)begin,
                                   (long long)end);
  const std::string recordName =
      name + "[" + std::to_string(begin) + ":" + std::to_string(end) + "]";
  return floatRecord(recordName, name, t, {end - begin}, [&](int64_t e) { return begin + e; });
}

llvm::Expected<const fe::TensorRecord *>
WeightStore::matMulNBits(const std::string &name, const Tensor &blocks, const Tensor &scales,
                         const Tensor *zeroPoints, int64_t k, int64_t n, int64_t bits,
                         int64_t block) {
  if (auto it = byName.find(name); it != byName.end())
    return it->second;
  auto fail = [&](const std::string &what) {
    return llvm::createStringError("MatMulNBits weight '%s': %s", name.c_str(), what.c_str());
  };
  if (bits != 2 && bits != 4 && bits != 8)
    return fail("bits = " + std::to_string(bits) + "; supported: 2, 4, 8");
  if (block < 16 || (block & (block - 1)) || k <= 0 || n <= 0)
    return fail("block_size " + std::to_string(block) + ", K " + std::to_string(k) + ", N " +
                std::to_string(n) + ": expected a power-of-two block of at least 16 and K, N > 0");
  const int64_t kBlocks = (k + block - 1) / block, blob = block * bits / 8;
  if (blocks.type() != ElemType::UInt8 || blocks.numElements() != n * kBlocks * blob)
    return fail("quantized data is " + blocks.describe() + "; expected UINT8 [" +
                std::to_string(n) + ", " + std::to_string(kBlocks) + ", " + std::to_string(blob) +
                "]");
  if (!isFloatType(scales.type()) || scales.numElements() != n * kBlocks)
    return fail("scales are " + scales.describe() + "; expected " + std::to_string(n * kBlocks) +
                " floats");
  const int64_t zpRowBytes = (kBlocks * bits + 7) / 8;
  const bool packedZeroPoints = zeroPoints && zeroPoints->type() == ElemType::UInt8;
  if (zeroPoints && !(packedZeroPoints ? zeroPoints->numElements() == n * zpRowBytes
                                       : isFloatType(zeroPoints->type()) &&
                                             zeroPoints->numElements() == n * kBlocks))
    return fail("zero points are " + zeroPoints->describe() + "; expected UINT8 [" +
                std::to_string(n) + ", " + std::to_string(zpRowBytes) + "] or one float per block");
  const uint8_t *q = blocks.bytes().data();
  const uint32_t mask = (1u << bits) - 1;
  std::vector<float> values(n * k);
  for (int64_t row = 0; row < n; ++row)
    for (int64_t b = 0; b < kBlocks; ++b) {
      const float scale = static_cast<float>(scales.getDouble(row * kBlocks + b));
      double zero = double(1 << (bits - 1));
      if (packedZeroPoints) {
        const int64_t bit = b * bits;
        zero = (zeroPoints->bytes()[row * zpRowBytes + bit / 8] >> (bit % 8)) & mask;
      } else if (zeroPoints) {
        zero = zeroPoints->getDouble(row * kBlocks + b);
      }
      const uint8_t *data = q + (row * kBlocks + b) * blob;
      for (int64_t i = 0; i < block && b * block + i < k; ++i) {
        const int64_t bit = i * bits; // elements never straddle a byte for 2, 4 and 8 bits
        const uint32_t code = (data[bit / 8] >> (bit % 8)) & mask;
        values[row * k + b * block + i] = static_cast<float>((double(code) - zero) * scale);
      }
    }
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  fe::TensorRecord r;
  r.name = name;
  r.dtype = fe::DType::F32;
  r.shape = {n, k};
  return add(std::move(r), std::move(bytes));
}

std::optional<float> WeightStore::ternaryScale(const fe::TensorRecord &record) {
  auto values = fe::decodeToFloat(record);
  if (!values) {
    llvm::consumeError(values.takeError());
    return std::nullopt;
  }
  float s = 0;
  for (float v : *values) {
    if (v == 0.0f)
      continue;
    if (s == 0.0f)
      s = std::fabs(v);
    else if (std::fabs(v) != s)
      return std::nullopt;
  }
  if (!(s > 0.0f) || !std::isfinite(s))
    return std::nullopt;
  return s;
}

llvm::Expected<const fe::TensorRecord *> WeightStore::ternary(const fe::TensorRecord &source) {
  const std::string name = source.name + ".ternary";
  if (auto it = byName.find(name); it != byName.end())
    return it->second;
  std::optional<float> s = ternaryScale(source);
  if (!s)
    return llvm::createStringError("tensor '%s' holds values other than 0 and +-s for one scale s",
                                   source.name.c_str());
  if (source.elementCount() % 128 != 0)
    return llvm::createStringError("tensor '%s' has %llu elements; ternary weights need a "
                                   "multiple of 128",
                                   source.name.c_str(),
                                   static_cast<unsigned long long>(source.elementCount()));
  auto values = fe::decodeToFloat(source);
  if (!values)
    return values.takeError();
  std::vector<int8_t> codes(values->size());
  for (size_t i = 0; i < codes.size(); ++i)
    codes[i] = (*values)[i] > 0 ? 1 : (*values)[i] < 0 ? -1 : 0;
  fe::TensorRecord r;
  r.name = name;
  r.dtype = fe::DType::I2_S;
  r.shape = source.shape;
  return add(std::move(r), fe::encodeI2_S(codes, *s));
}

void WeightStore::finish(fe::ModelDescription &model) {
  std::map<const fe::TensorRecord *, size_t> index;
  model.tensors.clear();
  for (const fe::TensorRecord &r : records) {
    index[&r] = model.tensors.size();
    model.tensors.push_back(r);
  }
  auto remap = [&](const fe::TensorRecord *&p) {
    if (p)
      p = &model.tensors[index.at(p)];
  };
  auto remapLinear = [&](fe::LinearWeight &w) {
    remap(w.weight);
    remap(w.scale);
    remap(w.bias);
  };
  remap(model.tokenEmbedding);
  remap(model.positionEmbedding);
  remap(model.outputNorm);
  remap(model.outputNormBias);
  remapLinear(model.lmHead);
  for (fe::LayerWeights &l : model.layers) {
    for (const fe::TensorRecord **p : {&l.attnNorm, &l.attnNormBias, &l.attnSubNorm, &l.ffnNorm,
                                       &l.ffnNormBias, &l.ffnSubNorm})
      remap(*p);
    for (fe::LinearWeight *w : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down})
      remapLinear(*w);
  }
  model.storage = storage;
}

} // namespace tern::onnx
