// Decodes weights from the source file and lays them out as the kernels read them. Large
// sections are produced while the artifact is written, so no second copy of a model is held.
#include "compiler/program/WeightSections.h"

#include "compiler/program/KernelSpecs.h"
#include "frontends/common/TensorDecode.h"
#include "packing/QuantizedPacking.h"
#include "packing/TernaryPacking.h"
#include "tern/Dialect/TernOps.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstring>

using namespace mlir;
namespace T = mlir::tern;

namespace tern::program {
namespace {

llvm::Error weightError(llvm::StringRef name, const llvm::Twine &message) {
  return llvm::createStringError(llvm::Twine("tensor '") + name + "': " + message);
}

// The weights a weight-valued op stacks: itself, or the operands of a concat.
llvm::Expected<std::vector<T::WeightOp>> stackedWeights(Operation *op) {
  std::vector<T::WeightOp> weights;
  if (auto weight = dyn_cast<T::WeightOp>(op)) {
    weights.push_back(weight);
    return weights;
  }
  if (auto concat = dyn_cast<T::ConcatWeightsOp>(op)) {
    for (Value input : concat.getInputs()) {
      auto weight = input.getDefiningOp<T::WeightOp>();
      if (!weight)
        return llvm::createStringError("tern.concat_weights operand is not a tern.weight");
      weights.push_back(weight);
    }
    return weights;
  }
  return llvm::createStringError(llvm::Twine("expected a weight, got '") +
                                 op->getName().getStringRef() + "'");
}

std::string joinedNames(const std::vector<T::WeightOp> &weights) {
  std::string names;
  for (T::WeightOp w : weights)
    names += (names.empty() ? "" : ",") + w.getName().str();
  return names;
}

llvm::Expected<const fe::TensorRecord *> recordOf(const fe::ModelDescription &model,
                                                  T::WeightOp w) {
  const fe::TensorRecord *record = model.findTensor(w.getName().str());
  if (!record)
    return weightError(w.getName(), "not found in " + model.path);
  return record;
}

// The separate per-tensor scale (Hugging Face `weight_scale`), or 1.
llvm::Expected<float> separateScale(const fe::ModelDescription &model, T::WeightOp w) {
  auto scaleName = w.getScaleName();
  if (!scaleName)
    return 1.0f;
  const fe::TensorRecord *record = model.findTensor(scaleName->str());
  if (!record)
    return weightError(*scaleName, "scale of '" + w.getName() + "' not found in " + model.path);
  auto values = fe::decodeToFloat(*record);
  if (!values)
    return values.takeError();
  if (values->size() != 1)
    return weightError(*scaleName, llvm::formatv("expected one scale value, found {0}",
                                                 values->size())
                                       .str());
  return (*values)[0];
}

llvm::Expected<std::vector<float>> decodeFloatWeight(const fe::ModelDescription &model,
                                                     T::WeightOp w) {
  auto record = recordOf(model, w);
  if (!record)
    return record.takeError();
  auto values = fe::decodeToFloat(**record);
  if (!values)
    return values.takeError();
  auto scale = separateScale(model, w);
  if (!scale)
    return scale.takeError();
  if (*scale != 1.0f)
    for (float &v : *values)
      v *= *scale;
  return values;
}

// Ternary values and scales exactly as the reference interpreter reads them.
llvm::Expected<fe::TernaryTensor> decodeTernaryWeight(const fe::ModelDescription &model,
                                                      T::WeightOp w) {
  auto record = recordOf(model, w);
  if (!record)
    return record.takeError();
  auto scale = separateScale(model, w);
  if (!scale)
    return scale.takeError();
  auto type = cast<T::TernaryType>(w.getResult().getType());
  T::PackingKind source = w.getSourcePacking().value_or(type.getPacking());
  llvm::Expected<fe::TernaryTensor> decoded = llvm::createStringError("unreachable");
  if (w.getTernarize()) {
    auto master = fe::decodeToFloat(**record);
    if (!master)
      return master.takeError();
    decoded = fe::ternarizeAbsMean(*master, (*record)->shape);
  } else if (source == T::PackingKind::hf_packed) {
    decoded = fe::unpackHFBitNet(**record, *scale);
  } else {
    decoded = fe::decodeTernary(**record);
  }
  if (!decoded)
    return decoded.takeError();
  if (w.getScaleName() && source != T::PackingKind::hf_packed)
    for (float &s : decoded->scales)
      s *= *scale; // a separate per-tensor scale on top of the block scales
  if (int64_t(decoded->values.size()) != type.getN() * type.getK())
    return weightError(w.getName(), llvm::formatv("decoded {0} values, expected {1}x{2}",
                                                  decoded->values.size(), type.getN(),
                                                  type.getK())
                                        .str());
  return decoded;
}

// One scale per row; the i2_b128 kernels take no finer granularity.
llvm::Expected<std::vector<float>> rowScales(const fe::TernaryTensor &t, int64_t n, int64_t k,
                                             llvm::StringRef name) {
  std::vector<float> rows(n);
  const uint64_t group = t.scaleGroup ? t.scaleGroup : uint64_t(n * k);
  for (int64_t r = 0; r < n; ++r) {
    uint64_t first = uint64_t(r * k) / group, last = uint64_t(r * k + k - 1) / group;
    if (last >= t.scales.size())
      return weightError(name, llvm::formatv("has {0} scales, too few for {1}x{2} weights",
                                             t.scales.size(), n, k)
                                   .str());
    for (uint64_t g = first + 1; g <= last; ++g)
      if (t.scales[g] != t.scales[first])
        return weightError(
            name, llvm::formatv("row {0} has ternary scales that differ within the row ({1} "
                                "and {2}); the i2_b128 kernels take one scale per row",
                                r, t.scales[first], t.scales[g])
                      .str());
    rows[r] = t.scales[first];
  }
  return rows;
}

void writeBytes(llvm::raw_ostream &os, const void *data, size_t size) {
  os.write(static_cast<const char *>(data), size);
}

} // namespace

unsigned WeightSections::add(std::string key, ArtifactSection section) {
  unsigned index = sections.size();
  sections.push_back(std::move(section));
  byKey[std::move(key)] = index;
  return index;
}

llvm::Expected<unsigned> WeightSections::floatMatrix(Operation *weightOrConcat) {
  auto weights = stackedWeights(weightOrConcat);
  if (!weights)
    return weights.takeError();
  const std::string dtype = floatWeightDtype(weightOrConcat);
  const std::string names = joinedNames(*weights);
  std::string key = "float:" + dtype + ":" + names;
  if (auto found = byKey.find(key); found != byKey.end())
    return found->second;

  int64_t rows = 0, k = 0;
  uint64_t size = 0;
  std::vector<const fe::TensorRecord *> records;
  for (T::WeightOp w : *weights) {
    auto type = cast<RankedTensorType>(w.getResult().getType());
    auto record = recordOf(model, w);
    if (!record)
      return record.takeError();
    records.push_back(*record);
    rows += type.getDimSize(0);
    k = type.getDimSize(1);
    size += w.getDtype() == dtype && !w.getScaleName()
                ? (*record)->byteSize
                : uint64_t(type.getNumElements()) * (dtype == "f16" ? 2 : 4);
  }

  ArtifactSection section;
  section.name = names;
  section.kind = schema::SectionKind::Weights;
  section.size = size;
  schema::TensorInfoT info;
  info.name = names;
  info.dtype = dtype;
  info.shape = {rows, k};
  section.tensor = std::move(info);
  const bool asStored = weights->size() == 1 && (*weights)[0].getDtype() == dtype &&
                        !(*weights)[0].getScaleName();
  if (asStored) {
    section.bytes = llvm::ArrayRef<uint8_t>(records[0]->data, records[0]->byteSize);
  } else {
    std::vector<T::WeightOp> parts = *weights;
    const fe::ModelDescription &source = model;
    section.produce = [parts, records, dtype, &source](llvm::raw_ostream &os) -> llvm::Error {
      for (size_t i = 0; i < parts.size(); ++i) {
        T::WeightOp w = parts[i];
        if (w.getDtype() == dtype && !w.getScaleName()) {
          writeBytes(os, records[i]->data, records[i]->byteSize);
          continue;
        }
        auto values = decodeFloatWeight(source, w);
        if (!values)
          return values.takeError();
        if (dtype == "f16") {
          // Converted (tern-quantize-lm-head's f16): rounded to nearest even, row by row.
          std::vector<uint16_t> halves(values->size());
          for (size_t v = 0; v < values->size(); ++v)
            halves[v] = packing::floatToHalfBits((*values)[v]);
          writeBytes(os, halves.data(), halves.size() * sizeof(uint16_t));
          continue;
        }
        writeBytes(os, values->data(), values->size() * sizeof(float));
      }
      return llvm::Error::success();
    };
  }
  return add(std::move(key), std::move(section));
}

llvm::Expected<unsigned> WeightSections::quantizedMatrix(Operation *op) {
  auto weight = dyn_cast<T::WeightOp>(op);
  auto type = weight ? dyn_cast<T::QuantizedType>(weight.getType()) : T::QuantizedType();
  if (!type)
    return llvm::createStringError(llvm::Twine("expected a tern.weight of !tern.quantized "
                                               "type, got '") +
                                   op->getName().getStringRef() + "'");
  const std::string formatName = T::stringifyQuantFormat(type.getFormat()).str();
  std::string key = "quantized:" + formatName + ":" + weight.getName().str();
  if (auto found = byKey.find(key); found != byKey.end())
    return found->second;
  packing::QuantFormat format;
  if (!packing::quantFormatFromName(formatName.c_str(), &format))
    return weightError(weight.getName(), "has no layout for format " + formatName);
  const int64_t n = type.getN(), k = type.getK();

  ArtifactSection section;
  // Named apart from the same tensor's float table (a tied embedding kept separate).
  section.name = weight.getName().str() + "." + formatName;
  section.kind = schema::SectionKind::Weights;
  section.size = packing::quantPackedBytes(format, n, k);
  schema::TensorInfoT info;
  info.name = section.name;
  info.dtype = formatName;
  info.shape = {n, k};
  section.tensor = std::move(info);
  const fe::ModelDescription &source = model;
  section.produce = [weight, format, n, k, &source](llvm::raw_ostream &os) mutable -> llvm::Error {
    auto values = decodeFloatWeight(source, weight);
    if (!values)
      return values.takeError();
    if (int64_t(values->size()) != n * k)
      return weightError(weight.getName(), llvm::formatv("decoded {0} values, expected {1}x{2}",
                                                         values->size(), n, k)
                                               .str());
    // Decoded once, quantized in one buffer (codes plane, then scale plane), then written.
    std::vector<uint8_t> packed(packing::quantPackedBytes(format, n, k));
    if (!packing::quantizeMatrix(format, values->data(), n, k, packed.data()))
      return weightError(weight.getName(),
                         "holds a value that is not finite; it cannot be quantized");
    values->clear();
    values->shrink_to_fit();
    writeBytes(os, packed.data(), packed.size());
    return llvm::Error::success();
  };
  return add(std::move(key), std::move(section));
}

llvm::Expected<unsigned> WeightSections::f32Vector(Operation *op) {
  auto weight = dyn_cast<T::WeightOp>(op);
  if (!weight)
    return llvm::createStringError(llvm::Twine("expected a tern.weight vector, got '") +
                                   op->getName().getStringRef() + "'");
  std::string key = "f32:" + weight.getName().str();
  if (auto found = byKey.find(key); found != byKey.end())
    return found->second;
  auto record = recordOf(model, weight);
  if (!record)
    return record.takeError();
  ArtifactSection section;
  section.name = weight.getName().str();
  section.kind = schema::SectionKind::Weights;
  schema::TensorInfoT info;
  info.name = section.name;
  info.dtype = "f32";
  info.shape = (*record)->shape;
  section.tensor = std::move(info);
  if (weight.getDtype() == "f32" && !weight.getScaleName()) {
    section.size = (*record)->byteSize;
    section.bytes = llvm::ArrayRef<uint8_t>((*record)->data, (*record)->byteSize);
  } else {
    auto values = decodeFloatWeight(model, weight);
    if (!values)
      return values.takeError();
    auto bytes = std::make_shared<std::vector<uint8_t>>(values->size() * sizeof(float));
    std::memcpy(bytes->data(), values->data(), bytes->size());
    ownedBytes.push_back(bytes);
    section.size = bytes->size();
    section.bytes = *bytes;
  }
  return add(std::move(key), std::move(section));
}

llvm::Expected<std::pair<unsigned, unsigned>>
WeightSections::ternaryMatrix(Operation *weightOrConcat) {
  auto weights = stackedWeights(weightOrConcat);
  if (!weights)
    return weights.takeError();
  const std::string names = joinedNames(*weights);
  // The layout tern-select-packing chose: the kernels read what the type says (every part of
  // a concatenation has the same).
  auto layout = packing::TernaryLayout::I2B128;
  if (auto type = dyn_cast<T::TernaryType>(weightOrConcat->getResult(0).getType());
      type && type.getPacking() == T::PackingKind::tl2_t64)
    layout = packing::TernaryLayout::TL2T64;
  const std::string layoutName = packing::ternaryLayoutName(layout);
  std::string key = layoutName + ":" + names;
  if (auto found = byKey.find(key); found != byKey.end())
    return std::make_pair(found->second, byKey.at(key + ":wscale"));

  int64_t n = 0, k = 0;
  for (T::WeightOp w : *weights) {
    auto type = dyn_cast<T::TernaryType>(w.getResult().getType());
    if (!type)
      return weightError(w.getName(), "expected a ternary weight");
    if (!packing::layoutAcceptsShape(layout, type.getN(), type.getK()))
      return weightError(w.getName(), llvm::formatv("has shape {0}x{1}, which {2} cannot hold "
                                                    "(tl2_t64 needs N divisible by 64)",
                                                    type.getN(), type.getK(), layoutName)
                                          .str());
    n += type.getN();
    k = type.getK();
  }

  // The packed section fills |scales| as it decodes; the scale section, written next, uses
  // them instead of decoding the weights a second time.
  auto scales = std::make_shared<std::vector<float>>();
  std::vector<T::WeightOp> parts = *weights;
  const fe::ModelDescription &source = model;
  auto decodeAll = [parts, &source, scales, layout](llvm::raw_ostream *packedOut) -> llvm::Error {
    scales->clear();
    for (T::WeightOp w : parts) {
      auto type = cast<T::TernaryType>(w.getResult().getType());
      auto decoded = decodeTernaryWeight(source, w);
      if (!decoded)
        return decoded.takeError();
      auto rows = rowScales(*decoded, type.getN(), type.getK(), w.getName());
      if (!rows)
        return rows.takeError();
      scales->insert(scales->end(), rows->begin(), rows->end());
      if (!packedOut)
        continue;
      std::vector<uint8_t> packed(packing::packedBytes(layout, type.getN(), type.getK()));
      if (!packing::packTernary(layout, decoded->values.data(), type.getN(), type.getK(),
                                packed.data()))
        return weightError(w.getName(), "holds a value outside {-1, 0, 1}");
      writeBytes(*packedOut, packed.data(), packed.size());
    }
    return llvm::Error::success();
  };

  ArtifactSection packedSection;
  packedSection.name = names;
  packedSection.kind = schema::SectionKind::Weights;
  packedSection.size = packing::packedBytes(layout, n, k);
  schema::TensorInfoT info;
  info.name = names;
  info.dtype = "ternary";
  info.shape = {n, k};
  info.packing = layoutName;
  packedSection.tensor = std::move(info);
  packedSection.produce = [decodeAll](llvm::raw_ostream &os) { return decodeAll(&os); };

  ArtifactSection scaleSection;
  scaleSection.name = names + ".wscale";
  scaleSection.kind = schema::SectionKind::Weights;
  scaleSection.size = uint64_t(n) * sizeof(float);
  schema::TensorInfoT scaleInfo;
  scaleInfo.name = scaleSection.name;
  scaleInfo.dtype = "f32";
  scaleInfo.shape = {n};
  scaleSection.tensor = std::move(scaleInfo);
  scaleSection.produce = [decodeAll, scales, n](llvm::raw_ostream &os) -> llvm::Error {
    if (int64_t(scales->size()) != n)
      if (llvm::Error error = decodeAll(nullptr))
        return error;
    writeBytes(os, scales->data(), scales->size() * sizeof(float));
    scales->clear();
    return llvm::Error::success();
  };

  unsigned packedIndex = add(key, std::move(packedSection));
  unsigned scaleIndex = add(key + ":wscale", std::move(scaleSection));
  return std::make_pair(packedIndex, scaleIndex);
}

unsigned WeightSections::ropeTable(double theta, double freqScale, int64_t headDim,
                                   int64_t context) {
  std::string key =
      llvm::formatv("rope:{0}:{1}:{2}:{3}", theta, freqScale, headDim, context).str();
  if (auto found = byKey.find(key); found != byKey.end())
    return found->second;
  const int64_t half = headDim / 2;
  auto bytes = std::make_shared<std::vector<uint8_t>>(context * half * 2 * sizeof(float));
  float *table = reinterpret_cast<float *>(bytes->data()); // (context, half, 2) of (cos, sin)
  for (int64_t p = 0; p < context; ++p)
    for (int64_t i = 0; i < half; ++i) {
      double freq = std::pow(theta, -2.0 * double(i) / double(headDim)) * freqScale;
      double angle = double(p) * freq;
      table[(p * half + i) * 2] = float(std::cos(angle));
      table[(p * half + i) * 2 + 1] = float(std::sin(angle));
    }
  ownedBytes.push_back(bytes);
  ArtifactSection section;
  section.name =
      llvm::formatv("rope_table.theta{0}.scale{1}.d{2}", theta, freqScale, headDim).str();
  section.kind = schema::SectionKind::Weights;
  section.size = bytes->size();
  section.bytes = *bytes;
  schema::TensorInfoT info;
  info.name = section.name;
  info.dtype = "f32";
  info.shape = {context, half, 2};
  section.tensor = std::move(info);
  return add(std::move(key), std::move(section));
}

} // namespace tern::program
