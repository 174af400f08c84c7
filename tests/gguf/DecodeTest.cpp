// Decoders and encoders: hand-written blocks of every type with known values, and random round trips.
#include "GGUFTestUtil.h"

#include "frontends/common/TensorDecode.h"

#include "gtest/gtest.h"

#include <bit>
#include <cmath>
#include <random>

namespace tern::fe {
namespace {

using tern::test::errorText;

// A record over |bytes| (kept alive by the caller).
TensorRecord record(DType type, std::vector<int64_t> shape, const std::vector<uint8_t> &bytes) {
  TensorRecord t;
  t.name = "w";
  t.file = "test.gguf";
  t.dtype = type;
  t.shape = std::move(shape);
  t.byteSize = bytes.size();
  t.data = bytes.data();
  return t;
}

std::vector<float> decode(const TensorRecord &t) {
  auto v = decodeToFloat(t);
  EXPECT_TRUE(static_cast<bool>(v)) << errorText(v.takeError());
  return v ? *v : std::vector<float>{};
}

TEST(TensorDecode, HalfKnownValues) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.0f), 0x7bff); // below the midpoint to infinity
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // the midpoint ties to even: infinity
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000);  // tie to even (0)
  EXPECT_EQ(floatToHalf(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 units: tie to even (2)
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00); // tie between 1 and next: even
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(3.0f, -11)), 0x3c02); // tie: up to even
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(INFINITY), 0x7c00);
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(NAN))));
  EXPECT_EQ(halfToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloat(0xfc00), -INFINITY);
}

TEST(TensorDecode, HalfRoundTripsEveryPattern) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) // NaN payloads need not survive exactly
      continue;
    ASSERT_EQ(floatToHalf(halfToFloat(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

#if defined(__FLT16_MAX__)
TEST(TensorDecode, HalfMatchesCompilerRounding) {
  // The compiler's _Float16 conversion rounds to nearest even; compare on random bit patterns.
  std::mt19937 rng(7);
  for (int i = 0; i < 2000000; ++i) {
    float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (std::isnan(f))
      continue;
    _Float16 ref = static_cast<_Float16>(f);
    ASSERT_EQ(floatToHalf(f), std::bit_cast<uint16_t>(ref)) << f;
  }
}
#endif

TEST(TensorDecode, BF16RoundsToNearestEven) {
  EXPECT_EQ(floatToBF16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBF16(std::bit_cast<float>(0x3f808000u)), 0x3f80); // tie: stays even
  EXPECT_EQ(floatToBF16(std::bit_cast<float>(0x3f818000u)), 0x3f82); // tie: up to even
  EXPECT_EQ(floatToBF16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_EQ(bf16ToFloat(0xc0a0), -5.0f);
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBF16(NAN))));
}

TEST(TensorDecode, PlainTypesFromHandWrittenBytes) {
  std::vector<uint8_t> f16 = {0x00, 0x3c, 0x00, 0xc0}; // 1, -2
  EXPECT_EQ(decode(record(DType::F16, {2}, f16)), (std::vector<float>{1.0f, -2.0f}));
  std::vector<uint8_t> bf16 = {0x80, 0x3f, 0xa0, 0xc0}; // 1, -5
  EXPECT_EQ(decode(record(DType::BF16, {2}, bf16)), (std::vector<float>{1.0f, -5.0f}));
  std::vector<uint8_t> f32 = {0x00, 0x00, 0x40, 0x40}; // 3
  EXPECT_EQ(decode(record(DType::F32, {1}, f32)), (std::vector<float>{3.0f}));
  std::vector<uint8_t> f64 = {0, 0, 0, 0, 0, 0, 0xe0, 0xbf}; // -0.5
  EXPECT_EQ(decode(record(DType::F64, {1}, f64)), (std::vector<float>{-0.5f}));
  std::vector<uint8_t> i8 = {0xff, 0x7f};
  EXPECT_EQ(decode(record(DType::I8, {2}, i8)), (std::vector<float>{-1.0f, 127.0f}));
  std::vector<uint8_t> i16 = {0x00, 0x80};
  EXPECT_EQ(decode(record(DType::I16, {1}, i16)), (std::vector<float>{-32768.0f}));
  std::vector<uint8_t> i32 = {0xfe, 0xff, 0xff, 0xff};
  EXPECT_EQ(decode(record(DType::I32, {1}, i32)), (std::vector<float>{-2.0f}));
  std::vector<uint8_t> i64 = {5, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(decode(record(DType::I64, {1}, i64)), (std::vector<float>{5.0f}));
}

TEST(TensorDecode, Q8_0HandWrittenBlock) {
  std::vector<uint8_t> block(34, 0);
  block[0] = 0x00, block[1] = 0x38; // d = 0.5
  block[2] = 1, block[3] = 0xfe, block[4] = 127, block[5] = 0x80; // 1, -2, 127, -128
  std::vector<float> v = decode(record(DType::Q8_0, {32}, block));
  EXPECT_EQ(v[0], 0.5f);
  EXPECT_EQ(v[1], -1.0f);
  EXPECT_EQ(v[2], 63.5f);
  EXPECT_EQ(v[3], -64.0f);
  EXPECT_EQ(v[31], 0.0f);
}

TEST(TensorDecode, Q4_0HandWrittenBlock) {
  std::vector<uint8_t> block(18, 0x88); // every nibble 8: weight 0
  block[0] = 0x00, block[1] = 0x40;     // d = 2
  block[2] = 0x1f;                      // weight 0: 15-8 = 7, weight 16: 1-8 = -7
  block[3] = 0x80;                      // weight 1: 0-8 = -8, weight 17: 0
  std::vector<float> v = decode(record(DType::Q4_0, {32}, block));
  EXPECT_EQ(v[0], 14.0f);
  EXPECT_EQ(v[16], -14.0f);
  EXPECT_EQ(v[1], -16.0f);
  EXPECT_EQ(v[17], 0.0f);
  EXPECT_EQ(v[5], 0.0f);
}

TEST(TensorDecode, TQ2_0HandWrittenBlock) {
  std::vector<uint8_t> block(66, 0x55); // code 1 everywhere: weight 0
  block[0] = 0x92;  // bits 1-0: 2 (+1) w0; 3-2: 0 (-1) w32; 5-4: 1 (0) w64; 7-6: 2 (+1) w96
  block[32] = 0x00; // w128, w160, w192, w224: -1
  block[64] = 0x00, block[65] = 0x40; // d = 2
  std::vector<float> v = decode(record(DType::TQ2_0, {256}, block));
  EXPECT_EQ(v[0], 2.0f);
  EXPECT_EQ(v[32], -2.0f);
  EXPECT_EQ(v[64], 0.0f);
  EXPECT_EQ(v[96], 2.0f);
  for (int i : {128, 160, 192, 224})
    EXPECT_EQ(v[i], -2.0f) << i;
  EXPECT_EQ(v[1], 0.0f);
  auto t = decodeTernary(record(DType::TQ2_0, {256}, block));
  ASSERT_TRUE(static_cast<bool>(t)) << errorText(t.takeError());
  EXPECT_EQ(t->values[0], 1);
  EXPECT_EQ(t->values[32], -1);
  EXPECT_EQ(t->scales, std::vector<float>{2.0f});
  EXPECT_EQ(t->scaleGroup, 256u);
  // Re-encoding gives the same bytes.
  EXPECT_EQ(encodeTQ2_0(t->values, t->scales), block);
}

TEST(TensorDecode, TQ1_0HandWrittenBlock) {
  // 0x80 = 128 encodes five zero trits (codes 1,1,1,1,1: q = 121, ceil(121 * 256 / 243) = 128);
  // 0x7f = 127 encodes four zero trits shifted up (q = 40 * 3, ceil(120 * 256 / 243) = 127).
  std::vector<uint8_t> block(54, 0x80);
  for (int j = 48; j < 52; ++j)
    block[j] = 0x7f;
  // Codes 2,0,1,1,2 -> weights +1,-1,0,0,+1 at 0,32,64,96,128: q = 162+0+9+3+2 = 176 -> 186.
  block[0] = 186;
  // qs[32] covers weights 160 + m + 16n; codes 0,2,1,1,1 -> q = 0+54+9+3+1 = 67 -> ceil(70.58) = 71.
  block[32] = 71;
  // qh[0] covers weights 240 + 4n; codes 2,1,1,0 -> q = (54+9+3+0)*3 = 198 -> ceil(208.59) = 209.
  block[48] = 209;
  block[52] = 0x00, block[53] = 0x3c; // d = 1
  std::vector<float> v = decode(record(DType::TQ1_0, {256}, block));
  std::vector<float> want(256, 0.0f);
  want[0] = 1, want[32] = -1, want[128] = 1;
  want[160] = -1, want[176] = 1;
  want[240] = 1, want[252] = -1;
  EXPECT_EQ(v, want);
  auto t = decodeTernary(record(DType::TQ1_0, {256}, block));
  ASSERT_TRUE(static_cast<bool>(t)) << errorText(t.takeError());
  EXPECT_EQ(encodeTQ1_0(t->values, t->scales), block);
}

TEST(TensorDecode, I2SHandWrittenBlock) {
  std::vector<uint8_t> bytes(64, 0x55); // 128 codes of 1 (weight 0)...
  bytes[0] = 0x86; // bits 7-6: 2 (+1) w0; 5-4: 0 (-1) w32; 3-2: 1 (0) w64; 1-0: 2 (+1) w96
  bytes[31] = 0x15; // bits 7-6: 0 (-1) w31
  // ...then the tail: float32 scale 0.25 and 28 bytes of padding.
  for (int i = 32; i < 64; ++i)
    bytes[i] = 0;
  bytes[34] = 0x80, bytes[35] = 0x3e; // 0x3e800000 = 0.25
  std::vector<float> v = decode(record(DType::I2_S, {1, 128}, bytes));
  EXPECT_EQ(v[0], 0.25f);
  EXPECT_EQ(v[32], -0.25f);
  EXPECT_EQ(v[64], 0.0f);
  EXPECT_EQ(v[96], 0.25f);
  EXPECT_EQ(v[31], -0.25f);
  EXPECT_EQ(v[63], 0.0f);
  auto t = decodeTernary(record(DType::I2_S, {1, 128}, bytes));
  ASSERT_TRUE(static_cast<bool>(t)) << errorText(t.takeError());
  EXPECT_EQ(t->scales, std::vector<float>{0.25f});
  EXPECT_EQ(t->scaleGroup, 128u);
  EXPECT_EQ(encodeI2_S(t->values, 0.25f), bytes);
}

TEST(TensorDecode, RejectsNonTernaryCodes) {
  std::vector<uint8_t> i2s(64, 0x55);
  i2s[5] = 0xd5; // bits 7-6 = 3 at weight 5
  auto t = decodeTernary(record(DType::I2_S, {128}, i2s));
  ASSERT_FALSE(static_cast<bool>(t));
  std::string msg = errorText(t.takeError());
  EXPECT_NE(msg.find("test.gguf: tensor 'w': i2_s code 3 at element 5"), std::string::npos) << msg;
  std::vector<uint8_t> tq2(66, 0x55);
  tq2[0] = 0x57; // bits 1-0 = 3 at weight 0
  EXPECT_FALSE(static_cast<bool>(decodeTernary(record(DType::TQ2_0, {256}, tq2))));
  // ggml dequantizes TQ2_0 code 3 as (3 - 1) * d, so decodeToFloat does too.
  tq2[64] = 0x00, tq2[65] = 0x3c;
  EXPECT_EQ(decode(record(DType::TQ2_0, {256}, tq2))[0], 2.0f);
}

TEST(TensorDecode, RejectsShortAndMisshapenData) {
  std::vector<uint8_t> bytes(33, 0);
  auto v = decodeToFloat(record(DType::Q8_0, {32}, bytes));
  ASSERT_FALSE(static_cast<bool>(v));
  EXPECT_NE(errorText(v.takeError()).find("tensor 'w': has 33 bytes, but q8_0 with 32 elements needs 34"),
            std::string::npos);
  auto w = decodeToFloat(record(DType::TQ1_0, {100}, bytes));
  ASSERT_FALSE(static_cast<bool>(w));
  EXPECT_NE(errorText(w.takeError()).find("not a whole number of tq1_0 blocks of 256"),
            std::string::npos);
  auto t = decodeTernary(record(DType::F32, {8}, bytes));
  ASSERT_FALSE(static_cast<bool>(t));
  EXPECT_NE(errorText(t.takeError()).find("expected a ternary type"), std::string::npos);
}

std::vector<int8_t> randomTernary(size_t n, std::mt19937 &rng) {
  std::vector<int8_t> v(n);
  for (int8_t &x : v)
    x = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
  return v;
}

std::vector<float> randomScales(size_t n, std::mt19937 &rng) {
  std::vector<float> s(n);
  std::uniform_real_distribution<float> d(0.01f, 2.0f);
  for (float &x : s)
    x = halfToFloat(floatToHalf(d(rng))); // representable in f16, so the round trip is exact
  return s;
}

TEST(TensorDecode, TernaryRandomRoundTrips) {
  std::mt19937 rng(42);
  const size_t n = 256 * 64;
  std::vector<int8_t> values = randomTernary(n, rng);
  std::vector<float> scales = randomScales(n / 256, rng);
  struct Case {
    DType type;
    std::vector<uint8_t> bytes;
  } cases[] = {{DType::TQ1_0, encodeTQ1_0(values, scales)},
               {DType::TQ2_0, encodeTQ2_0(values, scales)},
               {DType::I2_S, encodeI2_S(values, 0.75f)}};
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string(info(c.type).name));
    ASSERT_EQ(c.bytes.size(), *storageBytes(c.type, n));
    auto t = decodeTernary(record(c.type, {64, 256}, c.bytes));
    ASSERT_TRUE(static_cast<bool>(t)) << errorText(t.takeError());
    EXPECT_EQ(t->values, values);
    EXPECT_EQ(t->scales, c.type == DType::I2_S ? std::vector<float>{0.75f} : scales);
    std::vector<float> f = decode(record(c.type, {64, 256}, c.bytes));
    for (size_t i = 0; i < n; i += 97)
      ASSERT_EQ(f[i], values[i] * t->scales[i / t->scaleGroup]) << i;
  }
}

TEST(TensorDecode, EncodersRejectBadInput) {
  EXPECT_TRUE(encodeTQ2_0(std::vector<int8_t>(100, 0), {1.0f}).empty());
  EXPECT_TRUE(encodeTQ1_0(std::vector<int8_t>(256, 2), {1.0f}).empty());
  EXPECT_TRUE(encodeTQ1_0(std::vector<int8_t>(256, 0), {}).empty());
  EXPECT_TRUE(encodeI2_S(std::vector<int8_t>(64, 0), 1.0f).empty());
  EXPECT_TRUE(encodeQ8_0(std::vector<float>(31, 0.0f)).empty());
}

TEST(TensorDecode, FloatRandomRoundTrips) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(32 * 40);
  for (float &v : x)
    v = d(rng);
  auto q8 = encodeQ8_0(x);
  std::vector<float> y = decode(record(DType::Q8_0, {40, 32}, q8));
  for (size_t b = 0; b < 40; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j)
      amax = std::max(amax, std::fabs(x[32 * b + j]));
    for (int j = 0; j < 32; ++j) // half a step, plus the f16 rounding of the scale
      ASSERT_NEAR(y[32 * b + j], x[32 * b + j], amax / 127 * 0.51f + amax * 1e-3f);
  }
  auto q4 = encodeQ4_0(x);
  std::vector<float> z = decode(record(DType::Q4_0, {40, 32}, q4));
  for (size_t b = 0; b < 40; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j)
      amax = std::max(amax, std::fabs(x[32 * b + j]));
    for (int j = 0; j < 32; ++j)
      ASSERT_NEAR(z[32 * b + j], x[32 * b + j], amax / 8 * 1.01f + amax * 1e-3f);
  }
  auto h = encodeF16(x);
  std::vector<float> hf = decode(record(DType::F16, {40, 32}, h));
  auto bf = encodeBF16(x);
  std::vector<float> bff = decode(record(DType::BF16, {40, 32}, bf));
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(hf[i], halfToFloat(floatToHalf(x[i])));
    ASSERT_EQ(bff[i], bf16ToFloat(floatToBF16(x[i])));
    ASSERT_NEAR(hf[i], x[i], std::fabs(x[i]) * 0x1p-11f + 0x1p-25f);
    ASSERT_NEAR(bff[i], x[i], std::fabs(x[i]) * 0x1p-8f);
  }
}

} // namespace
} // namespace tern::fe
