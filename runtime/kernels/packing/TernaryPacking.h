// Layouts of packed ternary weights: one packer and one unpacker per layout, shared by the
// compiler (packing at compile time) and the runtime's reference twins (docs/kernels.md).
#ifndef TERN_RUNTIME_KERNELS_PACKING_TERNARYPACKING_H
#define TERN_RUNTIME_KERNELS_PACKING_TERNARYPACKING_H

#include <cstddef>
#include <cstdint>

namespace tern::packing {

enum class TernaryLayout {
  I2B128, // "i2_b128": 2 bits per weight, 128-weight blocks of 32 bytes, rows padded to 128
  TL2T64, // "tl2_t64": ~1.67 bits per weight, 3 weights -> 4-bit table index + sign bit,
          // tiles of 64 rows (n must be a multiple of 64); docs/kernels.md
};

// tl2_t64 geometry. A tile of 64 rows holds, in order: the rows' sign sums (int16 each,
// kTl2SignSumBytes), then one 160-byte record per quad of 4 groups of 3 weights (128 bytes of
// 4-bit indices, then four 64-bit sign masks), then the k % 12 leftover weights as 2-bit codes
// in 64-byte chunks of 4 weights per row, padded to a multiple of 64 bytes.
inline constexpr int64_t kTl2TileRows = 64;
inline constexpr int64_t kTl2QuadWeights = 12;
inline constexpr int64_t kTl2SignSumBytes = 128;
inline constexpr int64_t kTl2QuadBytes = 160;
inline constexpr int64_t kTl2ChunkBytes = 64;
// The longest rows the tl2_t64 kernels take: they build the activations' tables (128 bytes
// per 12 weights, two rows at once in prefill) on the stack, kept under 512 KiB.
inline constexpr int64_t kTl2MaxK = 24576;
inline constexpr int64_t tl2Quads(int64_t k) { return k / kTl2QuadWeights; }
inline constexpr int64_t tl2Chunks(int64_t k) { return (k % kTl2QuadWeights + 3) / 4; }
inline constexpr int64_t tl2TileBytes(int64_t k) {
  return (kTl2SignSumBytes + kTl2QuadBytes * tl2Quads(k) + kTl2ChunkBytes * tl2Chunks(k) + 63) /
         64 * 64;
}

// The index (0..13) and sign of 3 weights in tl2_t64: v = 9(w0+1) + 3(w1+1) + (w2+1) in
// 0..26, and v, 26 - v are negatives of each other, so the index is |v - 13| and the sign is
// set when v < 13.
inline int tl2Index(int w0, int w1, int w2, bool *negative) {
  const int v = 9 * (w0 + 1) + 3 * (w1 + 1) + (w2 + 1);
  *negative = v < 13;
  return v >= 13 ? v - 13 : 13 - v;
}

// Parses a layout name as it appears in kernel descriptors ("i2_b128"); false if unknown.
bool ternaryLayoutFromName(const char *name, TernaryLayout *out);
const char *ternaryLayoutName(TernaryLayout layout);

// Whether |layout| can hold an (n, k) matrix: tl2_t64 needs n to be a multiple of 64.
bool layoutAcceptsShape(TernaryLayout layout, int64_t n, int64_t k);

// Bytes of one packed row of |k| weights in a row-major layout (i2_b128; 0 for tl2_t64, whose
// rows share tiles), and of a packed (n, k) matrix.
int64_t packedRowBytes(TernaryLayout layout, int64_t k);
int64_t packedBytes(TernaryLayout layout, int64_t n, int64_t k);

// Packs |w| (n, k), every value -1, 0 or 1, into |out| (packedBytes). Returns false if a value
// is outside {-1, 0, 1} or the layout does not accept the shape.
bool packTernary(TernaryLayout layout, const int8_t *w, int64_t n, int64_t k, uint8_t *out);

// Unpacks rows [rowBegin, rowEnd) of a packed (n, k) matrix into |w| ((rowEnd - rowBegin), k).
void unpackTernary(TernaryLayout layout, const uint8_t *packed, int64_t k, int64_t rowBegin,
                   int64_t rowEnd, int8_t *w);

} // namespace tern::packing

#endif
