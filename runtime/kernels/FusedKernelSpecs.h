// Kernels that do two families' work in one dispatch (docs/kernels.md). Their parameters are
// the union of the two kernels' (the names are disjoint), so a backend or a reference twin
// gets each part's spec back by splitting them.
#ifndef TERN_RUNTIME_KERNELS_FUSEDKERNELSPECS_H
#define TERN_RUNTIME_KERNELS_FUSEDKERNELSPECS_H

#include "KernelSpec.h"

#include <string>
#include <utility>

namespace tern {

// ternary_matmul, then rms_norm_quantize of its result, done by the block that finishes the
// matmul last. Bindings: the matmul's five, the norm's, then one u32 counter of finished
// blocks that is zero before the dispatch and is left zero after it.
inline constexpr const char kTernaryMatmulNormFamily[] = "ternary_matmul_rms_norm_quantize";

inline bool isTernaryMatmulParam(const std::string &name) {
  return name == "n" || name == "k" || name == "n_block" || name == "divide_by_scale" ||
         name == "packing";
}

// The fused kernel of |matmul| (ternary_matmul) and |norm| (rms_norm_quantize); its symbol is
// left empty.
inline KernelSpec fuseTernaryMatmulNorm(const KernelSpec &matmul, const KernelSpec &norm) {
  KernelSpec fused;
  fused.family = kTernaryMatmulNormFamily;
  for (const KernelSpec *part : {&matmul, &norm}) {
    fused.ints.insert(part->ints.begin(), part->ints.end());
    fused.floats.insert(part->floats.begin(), part->floats.end());
    fused.strings.insert(part->strings.begin(), part->strings.end());
  }
  return fused;
}

// The two kernels of a fused ternary_matmul_rms_norm_quantize |fused|, with its symbol.
inline std::pair<KernelSpec, KernelSpec> splitTernaryMatmulNorm(const KernelSpec &fused) {
  KernelSpec matmul, norm;
  matmul.symbol = norm.symbol = fused.symbol;
  matmul.family = "ternary_matmul";
  norm.family = "rms_norm_quantize";
  for (const auto &[name, value] : fused.ints)
    (isTernaryMatmulParam(name) ? matmul : norm).ints[name] = value;
  for (const auto &[name, value] : fused.floats)
    (isTernaryMatmulParam(name) ? matmul : norm).floats[name] = value;
  for (const auto &[name, value] : fused.strings)
    (isTernaryMatmulParam(name) ? matmul : norm).strings[name] = value;
  return {matmul, norm};
}

} // namespace tern

#endif
