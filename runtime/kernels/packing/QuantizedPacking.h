// Layouts of block-quantized float weights (the lm_head's `--lm-head=q8|q6|q4`): one quantizer and
// one unpacker per layout, shared by the compiler (quantizing at compile time) and the runtime's
// reference twins (docs/kernels.md, "Weight layouts").
#ifndef TERN_RUNTIME_KERNELS_PACKING_QUANTIZEDPACKING_H
#define TERN_RUNTIME_KERNELS_PACKING_QUANTIZEDPACKING_H

#include <cstddef>
#include <cstdint>

namespace tern::packing {

// A matrix (n, k) of weights w = d * c: integer codes c, one f16 scale d per block of
// kQuantBlock consecutive weights of a row. Stored as a codes plane, rows one after another,
// then (at a 64-byte aligned offset) a scale plane of (n, k / kQuantBlock) f16 scales.
enum class QuantFormat {
  Q8B32, // "q8_b32": c int8 in [-127, 127], one byte each; d = absmax / 127
  Q4B32, // "q4_b32": c in [-8, 7] as c + 8 in a nibble, 32-byte groups of 64 weights (byte j
         // holds weight j in bits 0-3 and weight 32 + j in bits 4-7); d = -(signed max) / 8
  Q6B32, // "q6_b32": c in [-32, 31] as u = c + 32 (6 bits), 48-byte groups of 64 weights:
         // bytes 0-31 the low 4 bits of u laid out like a q4 group (byte j: weight j in bits
         // 0-3, weight 32 + j in bits 4-7), bytes 32-47 the high 2 bits (byte 32 + j: weights
         // j, 16 + j, 32 + j, 48 + j in bits 0-1, 2-3, 4-5, 6-7); d = -(signed max) / 32.
         // A final half group (k not a multiple of 64) is padded with code 0.
};

inline constexpr int64_t kQuantBlock = 32; // weights per scale in every format

// Parses a format name as it appears in kernel descriptors ("q8_b32", "q6_b32", "q4_b32").
bool quantFormatFromName(const char *name, QuantFormat *out);
const char *quantFormatName(QuantFormat format);

// Whether rows of |k| weights can be stored: k a positive multiple of kQuantBlock.
bool quantSupportsWidth(int64_t k);
// Bytes of one row of codes, of the codes plane (n rows), the offset of the scale plane (the
// codes plane rounded up to 64 bytes) and of the whole (n, k) matrix.
int64_t quantRowCodeBytes(QuantFormat format, int64_t k);
int64_t quantScaleOffset(QuantFormat format, int64_t n, int64_t k);
int64_t quantPackedBytes(QuantFormat format, int64_t n, int64_t k);

// Quantizes |x| (n, k) into |out| (quantPackedBytes; padding bytes are zero). Per block: the
// scale is rounded to f16 (ties to even) first, then each code is round_half_even(x / d),
// clamped to the format's range, so codes are chosen for the scale that is stored. A block of
// zeros (or one whose scale rounds to 0) stores d = 0 and codes 0. Deterministic: the same
// floats give the same bytes on every host. Returns false, writing nothing useful, if a value is
// not finite or k is not supported.
bool quantizeMatrix(QuantFormat format, const float *x, int64_t n, int64_t k, uint8_t *out);

// Codes and scales of rows [rowBegin, rowEnd) of a packed (n, k) matrix:
// |codes| (rowEnd - rowBegin, k) and |scales| (rowEnd - rowBegin, k / kQuantBlock) as f32.
void unpackQuantized(QuantFormat format, const uint8_t *packed, int64_t n, int64_t k,
                     int64_t rowBegin, int64_t rowEnd, int8_t *codes, float *scales);

// The weights d * c of rows [rowBegin, rowEnd) as f32 (|out|: (rowEnd - rowBegin, k)); each is
// float(d) * float(c), rounded once.
void dequantizeRows(QuantFormat format, const uint8_t *packed, int64_t n, int64_t k,
                    int64_t rowBegin, int64_t rowEnd, float *out);

// IEEE binary16 <-> binary32, exact (to float) and round-to-nearest-even (to half, overflowing
// to infinity), without depending on the host's F16C.
float halfBitsToFloat(uint16_t bits);
uint16_t floatToHalfBits(float value);

} // namespace tern::packing

#endif
