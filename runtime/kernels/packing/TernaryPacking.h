// Layouts of packed ternary weights: one packer and one unpacker per layout, shared by the
// compiler (packing at compile time) and the runtime's reference twins (docs/kernels.md).
#ifndef TERN_RUNTIME_KERNELS_PACKING_TERNARYPACKING_H
#define TERN_RUNTIME_KERNELS_PACKING_TERNARYPACKING_H

#include <cstddef>
#include <cstdint>

namespace tern::packing {

enum class TernaryLayout {
  I2B128, // "i2_b128": 2 bits per weight, 128-weight blocks of 32 bytes, rows padded to 128
};

// Parses a layout name as it appears in kernel descriptors ("i2_b128"); false if unknown.
bool ternaryLayoutFromName(const char *name, TernaryLayout *out);
const char *ternaryLayoutName(TernaryLayout layout);

// Bytes of one packed row of |k| weights, and of a packed (n, k) matrix.
int64_t packedRowBytes(TernaryLayout layout, int64_t k);
int64_t packedBytes(TernaryLayout layout, int64_t n, int64_t k);

// Packs |w| (n, k), every value -1, 0 or 1, into |out| (packedBytes). Returns false if a value
// is outside {-1, 0, 1}.
bool packTernary(TernaryLayout layout, const int8_t *w, int64_t n, int64_t k, uint8_t *out);

// Unpacks rows [rowBegin, rowEnd) of a packed (n, k) matrix into |w| ((rowEnd - rowBegin), k).
void unpackTernary(TernaryLayout layout, const uint8_t *packed, int64_t k, int64_t rowBegin,
                   int64_t rowEnd, int8_t *w);

} // namespace tern::packing

#endif
