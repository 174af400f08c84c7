// Packers and unpackers of the ternary weight layouts in docs/kernels.md.
#include "packing/TernaryPacking.h"

#include <cstring>

namespace tern::packing {
namespace {

constexpr int64_t kBlockWeights = 128; // i2_b128: weights per block
constexpr int64_t kBlockBytes = 32;    // 4 weights per byte
constexpr int64_t kLaneWeights = 32;   // weights sharing one 2-bit slot across a block's bytes

int64_t paddedK(int64_t k) { return (k + kBlockWeights - 1) / kBlockWeights * kBlockWeights; }

// tl2_t64 positions of tile row |row| (0..63): the rows form 4 vectors of 16 (v = row / 16),
// each row a dword of them (byte p = 4 * (row % 16) + m holds group m of a quad).
struct Tl2Row {
  int64_t vector, dword;
  explicit Tl2Row(int64_t row) : vector(row / 16), dword(4 * (row % 16)) {}
  // Byte of a quad's 128 index bytes holding group |m| of the row, and its nibble shift:
  // vectors 0 and 1 share bytes [0, 64) (low and high nibble), vectors 2 and 3 [64, 128).
  int64_t indexByte(int64_t m) const { return (vector / 2) * 64 + dword + m; }
  int shift() const { return int(4 * (vector % 2)); }
  // Bit of sign mask |vector| (the masks follow the index bytes) for group |m|.
  int64_t signBit(int64_t m) const { return dword + m; }
};

uint8_t *tl2Quad(uint8_t *tile, int64_t q) { return tile + kTl2SignSumBytes + kTl2QuadBytes * q; }
const uint8_t *tl2Quad(const uint8_t *tile, int64_t q) {
  return tile + kTl2SignSumBytes + kTl2QuadBytes * q;
}
int64_t tl2ChunkOffset(int64_t k, int64_t c) {
  return kTl2SignSumBytes + kTl2QuadBytes * tl2Quads(k) + kTl2ChunkBytes * c;
}

bool packTl2(const int8_t *w, int64_t n, int64_t k, uint8_t *out) {
  const int64_t quads = tl2Quads(k), chunks = tl2Chunks(k), tileBytes = tl2TileBytes(k);
  std::memset(out, 0, static_cast<size_t>(n / kTl2TileRows * tileBytes));
  for (int64_t row = 0; row < n; ++row) {
    const int8_t *src = w + row * k;
    for (int64_t col = 0; col < k; ++col)
      if (src[col] < -1 || src[col] > 1)
        return false;
    uint8_t *tile = out + row / kTl2TileRows * tileBytes;
    const Tl2Row at(row % kTl2TileRows);
    int16_t signSum = 0;
    for (int64_t q = 0; q < quads; ++q) {
      uint8_t *quad = tl2Quad(tile, q);
      for (int64_t m = 0; m < 4; ++m) {
        const int8_t *g = src + kTl2QuadWeights * q + 3 * m;
        bool negative;
        const int index = tl2Index(g[0], g[1], g[2], &negative);
        quad[at.indexByte(m)] |= static_cast<uint8_t>(index << at.shift());
        if (negative)
          quad[128 + 8 * at.vector + at.signBit(m) / 8] |=
              static_cast<uint8_t>(1u << (at.signBit(m) % 8));
        signSum = static_cast<int16_t>(signSum + (negative ? -1 : 1));
      }
    }
    std::memcpy(tile + 2 * (row % kTl2TileRows), &signSum, 2);
    for (int64_t c = 0; c < chunks; ++c) {
      uint8_t *chunk = tile + tl2ChunkOffset(k, c);
      for (int64_t m = 0; m < 4; ++m) {
        const int64_t col = kTl2QuadWeights * quads + 4 * c + m;
        const int code = col < k ? src[col] + 1 : 1; // padding: zero weights
        chunk[at.dword + m] |= static_cast<uint8_t>(code << (2 * at.vector));
      }
    }
  }
  return true;
}

void unpackTl2Row(const uint8_t *packed, int64_t k, int64_t row, int8_t *dst) {
  const int64_t quads = tl2Quads(k);
  const uint8_t *tile = packed + row / kTl2TileRows * tl2TileBytes(k);
  const Tl2Row at(row % kTl2TileRows);
  for (int64_t q = 0; q < quads; ++q) {
    const uint8_t *quad = tl2Quad(tile, q);
    for (int64_t m = 0; m < 4; ++m) {
      const int index = (quad[at.indexByte(m)] >> at.shift()) & 15;
      const bool negative =
          (quad[128 + 8 * at.vector + at.signBit(m) / 8] >> (at.signBit(m) % 8)) & 1;
      const int v = negative ? 13 - index : 13 + index;
      int8_t *g = dst + kTl2QuadWeights * q + 3 * m;
      g[0] = static_cast<int8_t>(v / 9 - 1);
      g[1] = static_cast<int8_t>(v / 3 % 3 - 1);
      g[2] = static_cast<int8_t>(v % 3 - 1);
    }
  }
  for (int64_t col = kTl2QuadWeights * quads; col < k; ++col) {
    const int64_t c = (col - kTl2QuadWeights * quads) / 4, m = (col - kTl2QuadWeights * quads) % 4;
    const uint8_t byte = tile[tl2ChunkOffset(k, c) + at.dword + m];
    dst[col] = static_cast<int8_t>(((byte >> (2 * at.vector)) & 3) - 1);
  }
}

} // namespace

bool ternaryLayoutFromName(const char *name, TernaryLayout *out) {
  if (std::strcmp(name, "i2_b128") == 0) {
    *out = TernaryLayout::I2B128;
    return true;
  }
  if (std::strcmp(name, "tl2_t64") == 0) {
    *out = TernaryLayout::TL2T64;
    return true;
  }
  return false;
}

const char *ternaryLayoutName(TernaryLayout layout) {
  switch (layout) {
  case TernaryLayout::I2B128:
    return "i2_b128";
  case TernaryLayout::TL2T64:
    return "tl2_t64";
  }
  return "unknown";
}

bool layoutAcceptsShape(TernaryLayout layout, int64_t n, int64_t k) {
  if (n <= 0 || k <= 0)
    return false;
  return layout != TernaryLayout::TL2T64 || n % kTl2TileRows == 0;
}

int64_t packedRowBytes(TernaryLayout layout, int64_t k) {
  switch (layout) {
  case TernaryLayout::I2B128:
    return paddedK(k) / kBlockWeights * kBlockBytes;
  case TernaryLayout::TL2T64:
    return 0;
  }
  return 0;
}

int64_t packedBytes(TernaryLayout layout, int64_t n, int64_t k) {
  if (layout == TernaryLayout::TL2T64)
    return (n + kTl2TileRows - 1) / kTl2TileRows * tl2TileBytes(k);
  return n * packedRowBytes(layout, k);
}

bool packTernary(TernaryLayout layout, const int8_t *w, int64_t n, int64_t k, uint8_t *out) {
  if (!layoutAcceptsShape(layout, n, k))
    return false;
  if (layout == TernaryLayout::TL2T64)
    return packTl2(w, n, k, out);
  const int64_t rowBytes = packedRowBytes(layout, k);
  for (int64_t row = 0; row < n; ++row) {
    uint8_t *dst = out + row * rowBytes;
    // Padding weights are zeros, stored as 1 in every slot.
    std::memset(dst, 0x55, static_cast<size_t>(rowBytes));
    for (int64_t col = 0; col < k; ++col) {
      const int8_t value = w[row * k + col];
      if (value < -1 || value > 1)
        return false;
      const int64_t block = col / kBlockWeights, within = col % kBlockWeights;
      const int64_t slot = within / kLaneWeights, byte = within % kLaneWeights;
      uint8_t &target = dst[block * kBlockBytes + byte];
      target = static_cast<uint8_t>((target & ~(3u << (2 * slot))) |
                                    (static_cast<unsigned>(value + 1) << (2 * slot)));
    }
  }
  return true;
}

void unpackTernary(TernaryLayout layout, const uint8_t *packed, int64_t k, int64_t rowBegin,
                   int64_t rowEnd, int8_t *w) {
  if (layout == TernaryLayout::TL2T64) {
    for (int64_t row = rowBegin; row < rowEnd; ++row)
      unpackTl2Row(packed, k, row, w + (row - rowBegin) * k);
    return;
  }
  const int64_t rowBytes = packedRowBytes(layout, k);
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
    const uint8_t *src = packed + row * rowBytes;
    int8_t *dst = w + (row - rowBegin) * k;
    for (int64_t col = 0; col < k; ++col) {
      const int64_t block = col / kBlockWeights, within = col % kBlockWeights;
      const int64_t slot = within / kLaneWeights, byte = within % kLaneWeights;
      dst[col] = static_cast<int8_t>(((src[block * kBlockBytes + byte] >> (2 * slot)) & 3) - 1);
    }
  }
}

} // namespace tern::packing
