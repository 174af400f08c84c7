// The two decode kernels that split a residual rms_norm_quantize between the ternary matmuls
// around it (docs/kernels.md, tern-fuse-gpu-dispatches): the matmul before it adds the
// residual and accumulates the row's statistics, the matmul after it quantizes the row from
// them while staging its activations. No dispatch of its own is left for the norm.
//
// The statistics of a row live in one 16-byte record: the sum of the squares of its values
// (f64), then max |value * w| over its values as the bits of a non-negative f32 (u32, so that
// an integer max orders them), then 4 unused bytes. A record is zero before its first
// producer adds to it; the producer of the next record zeroes it once its consumer is done.
#ifndef TERN_RUNTIME_KERNELS_NORMSTATSKERNELSPECS_H
#define TERN_RUNTIME_KERNELS_NORMSTATSKERNELSPECS_H

#include "KernelSpec.h"

#include <cstdint>
#include <cstring>

namespace tern {

// ternary_matmul, then sum = y + r (y its result, r the norm's other addend; sum may alias y
// or r), then the statistics of sum against the norm's weight w added to `stats`, and the
// record `clear` set to zero. Parameters: ternary_matmul's. Bindings: ternary_matmul's 5, then
// r (f32 n), w (f32 n), sum (f32 n), stats, clear. One row; one work item.
inline constexpr const char kTernaryMatmulResidualStatsFamily[] = "ternary_matmul_residual_stats";
// rms_norm_quantize of x from the statistics its producer left, then ternary_matmul of the
// codes. Parameters: ternary_matmul's and the norm's `eps`. Bindings: x (f32 k), w (f32 k),
// stats, then ternary_matmul's weights, wscale and y. One row.
inline constexpr const char kRmsNormStatsTernaryMatmulFamily[] = "rms_norm_stats_ternary_matmul";

inline constexpr uint64_t kNormStatsRecordBytes = 16;

struct NormStats {
  double sumSquares = 0;
  uint32_t maxBits = 0; // the f32 bits of max |x * w|
};

inline NormStats readNormStats(const void *record) {
  NormStats s;
  std::memcpy(&s.sumSquares, record, 8);
  std::memcpy(&s.maxBits, static_cast<const uint8_t *>(record) + 8, 4);
  return s;
}

inline void writeNormStats(void *record, const NormStats &s) {
  std::memcpy(record, &s.sumSquares, 8);
  std::memcpy(static_cast<uint8_t *>(record) + 8, &s.maxBits, 4);
  std::memset(static_cast<uint8_t *>(record) + 12, 0, 4);
}

} // namespace tern

#endif
