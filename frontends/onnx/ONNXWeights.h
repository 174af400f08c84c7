// Tensor records for ONNX weights in the layout the importer reads: linear weights transposed
// to [out, in], fused projections split, ternary-valued matrices re-encoded as 2-bit codes.
#ifndef TERN_FRONTENDS_ONNX_ONNXWEIGHTS_H
#define TERN_FRONTENDS_ONNX_ONNXWEIGHTS_H

#include "frontends/common/ModelDescription.h"
#include "frontends/onnx/ONNXTensor.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tern::onnx {

class WeightStore {
public:
  explicit WeightStore(std::string modelPath);

  // |t| as a float record named |name| (F32, F16 or BF16 kept; DOUBLE stored as F32).
  // Memoized by name: the same name returns the same record.
  llvm::Expected<const fe::TensorRecord *> floatTensor(const std::string &name, const Tensor &t);
  // A MatMul right-hand side [in, out] as an [out, in] record (columns |begin|..|end| of it when
  // a fused projection is split). Gemm with transB=1 passes |transposed| = false.
  llvm::Expected<const fe::TensorRecord *> linearWeight(const std::string &name, const Tensor &t,
                                                        bool transposed, int64_t begin = 0,
                                                        int64_t end = -1);
  // com.microsoft MatMulNBits weights dequantized to f32 [N, K]: |blocks| uint8
  // [N, ceil(K / block), block * bits / 8], one scale per block, zero points as packed uint8
  // ([N, ceil(blocks * bits / 8)]) or one float per block, or null for 2^(bits - 1).
  llvm::Expected<const fe::TensorRecord *> matMulNBits(const std::string &name,
                                                       const Tensor &blocks, const Tensor &scales,
                                                       const Tensor *zeroPoints, int64_t k,
                                                       int64_t n, int64_t bits, int64_t block);
  // Elements |begin|..|end| of a float vector (a fused projection's bias).
  llvm::Expected<const fe::TensorRecord *> vectorSlice(const std::string &name, const Tensor &t,
                                                       int64_t begin, int64_t end);
  // A ternary-valued matrix {-s, 0, +s} (from linearWeight's layout) as I2_S codes with scale
  // s; fails when the values are not ternary or the element count is not a multiple of 128.
  llvm::Expected<const fe::TensorRecord *> ternary(const fe::TensorRecord &floatRecord);
  // Whether every value of |record| is 0 or +-s for one s > 0 (s returned).
  static std::optional<float> ternaryScale(const fe::TensorRecord &record);

  // Moves the records into |model|.tensors and points every role at them; keeps the bytes alive
  // through |model|.storage.
  void finish(fe::ModelDescription &model);

private:
  const fe::TensorRecord *add(fe::TensorRecord record, std::vector<uint8_t> bytes);
  // Record |recordName| of |shape| (memoized), element e holding element sourceIndex(e) of |t|
  // in |t|'s float type; errors name |sourceName|.
  llvm::Expected<const fe::TensorRecord *>
  floatRecord(const std::string &recordName, const std::string &sourceName, const Tensor &t,
              std::vector<int64_t> shape, llvm::function_ref<int64_t(int64_t)> sourceIndex);

  struct Storage {
    std::deque<std::vector<uint8_t>> buffers;
  };
  std::string path;
  std::shared_ptr<Storage> storage = std::make_shared<Storage>();
  std::deque<fe::TensorRecord> records;
  std::map<std::string, const fe::TensorRecord *> byName;
  uint64_t nextOffset = 0;
};

} // namespace tern::onnx

#endif
