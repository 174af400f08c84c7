// Weight sections of an artifact: float matrices in the dtype the kernels read, block-quantized
// matrices (q8_b32, q6_b32, q4_b32), f32 norm vectors, ternary matrices repacked to i2_b128 with
// per-row scales, and rope tables.
#ifndef TERN_COMPILER_PROGRAM_WEIGHTSECTIONS_H
#define TERN_COMPILER_PROGRAM_WEIGHTSECTIONS_H

#include "compiler/artifact/ArtifactWriter.h"
#include "frontends/common/ModelDescription.h"

#include "mlir/IR/Operation.h"
#include "llvm/Support/Error.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tern::program {

class WeightSections {
public:
  // Appends sections to |sections|; bytes the sections own are kept in |ownedBytes|. |model|
  // supplies the source bytes and must outlive writing the artifact.
  WeightSections(const fe::ModelDescription &model, std::vector<ArtifactSection> &sections,
                 std::vector<std::shared_ptr<const std::vector<uint8_t>>> &ownedBytes)
      : model(model), sections(sections), ownedBytes(ownedBytes) {}

  // A float matrix (tern.weight or tern.concat_weights of float weights), stored in the dtype
  // floatWeightDtype() names.
  llvm::Expected<unsigned> floatMatrix(mlir::Operation *weightOrConcat);
  // A float matrix whose tern.weight has a !tern.quantized type, quantized from the file's
  // values into that format's layout (packing/QuantizedPacking.h).
  llvm::Expected<unsigned> quantizedMatrix(mlir::Operation *weight);
  // A float vector as f32 (norm weights).
  llvm::Expected<unsigned> f32Vector(mlir::Operation *weight);
  // A ternary matrix (tern.weight or tern.concat_weights of ternary weights) packed as i2_b128,
  // and its per-row f32 scales: (packed section, scale section).
  llvm::Expected<std::pair<unsigned, unsigned>> ternaryMatrix(mlir::Operation *weightOrConcat);
  // The (context, head_dim / 2, 2) table of (cos, sin) a rope with these settings reads.
  unsigned ropeTable(double theta, double freqScale, int64_t headDim, int64_t context);

private:
  unsigned add(std::string key, ArtifactSection section);

  const fe::ModelDescription &model;
  std::vector<ArtifactSection> &sections;
  std::vector<std::shared_ptr<const std::vector<uint8_t>>> &ownedBytes;
  std::map<std::string, unsigned> byKey; // one section per distinct content
};

} // namespace tern::program

#endif
