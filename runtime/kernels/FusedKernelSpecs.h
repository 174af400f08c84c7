// Kernels that do two families' work in one dispatch (docs/kernels.md): a kernel, then the
// rms_norm_quantize of its result. Their parameters are the union of the two kernels' (the
// names are disjoint), so a backend or a reference twin gets each part's spec back by
// splitting them.
#ifndef TERN_RUNTIME_KERNELS_FUSEDKERNELSPECS_H
#define TERN_RUNTIME_KERNELS_FUSEDKERNELSPECS_H

#include "KernelSpec.h"

#include <string>
#include <utility>

namespace tern {

// <first>_rms_norm_quantize: the first kernel, then the norm, done by the block that finishes
// the first kernel's work last. Bindings: the first kernel's, the norm's, then one u32
// counter of finished blocks that is zero before the dispatch and is left zero after it.
inline constexpr const char kTernaryMatmulNormFamily[] = "ternary_matmul_rms_norm_quantize";
inline constexpr const char kAttentionNormFamily[] = "attention_rms_norm_quantize";

// The family whose work a fused norm kernel of |family| does first, or "" when |family| is
// not one.
inline std::string normTailFirstFamily(const std::string &family) {
  if (family == kTernaryMatmulNormFamily)
    return "ternary_matmul";
  if (family == kAttentionNormFamily)
    return "attention";
  return "";
}

// Whether |name| is a parameter of the first kernel |family| (not of the norm).
inline bool isFirstKernelParam(const std::string &family, const std::string &name) {
  if (family == "ternary_matmul")
    return name == "n" || name == "k" || name == "n_block" || name == "divide_by_scale" ||
           name == "packing";
  return name == "heads" || name == "kv_heads" || name == "head_dim" || name == "q_stride" ||
         name == "context" || name == "scale" || name == "lanes_min_queries";
}

// The fused kernel of |first| (ternary_matmul or attention) and |norm| (rms_norm_quantize);
// its symbol is left empty.
inline KernelSpec fuseNormTail(const KernelSpec &first, const KernelSpec &norm) {
  KernelSpec fused;
  fused.family = first.family + "_" + norm.family;
  for (const KernelSpec *part : {&first, &norm}) {
    fused.ints.insert(part->ints.begin(), part->ints.end());
    fused.floats.insert(part->floats.begin(), part->floats.end());
    fused.strings.insert(part->strings.begin(), part->strings.end());
  }
  return fused;
}

// The two kernels of a fused norm kernel |fused|, with its symbol.
inline std::pair<KernelSpec, KernelSpec> splitNormTail(const KernelSpec &fused) {
  KernelSpec first, norm;
  first.symbol = norm.symbol = fused.symbol;
  first.family = normTailFirstFamily(fused.family);
  norm.family = "rms_norm_quantize";
  auto part = [&](const std::string &name) -> KernelSpec & {
    return isFirstKernelParam(first.family, name) ? first : norm;
  };
  for (const auto &[name, value] : fused.ints)
    part(name).ints[name] = value;
  for (const auto &[name, value] : fused.floats)
    part(name).floats[name] = value;
  for (const auto &[name, value] : fused.strings)
    part(name).strings[name] = value;
  return {first, norm};
}

} // namespace tern

#endif
