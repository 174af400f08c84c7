// GGUFWriter round trips: 2B-4T-shaped ternary tensors in every ternary format, and float types.
#include "GGUFTestUtil.h"

#include "frontends/common/TensorDecode.h"
#include "frontends/gguf/GGUFReader.h"
#include "frontends/gguf/GGUFWriter.h"

#include "gtest/gtest.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <random>

namespace tern::fe {
namespace {

using namespace tern::test;

struct Written {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<int8_t> values;
  std::vector<float> scales;
};

// The projections of microsoft/bitnet-b1.58-2B-4T: q/o, gate/up, down.
const std::vector<std::vector<int64_t>> k2B4TShapes = {{2560, 2560}, {6912, 2560}, {2560, 6912}};

TEST(GGUFWriter, TernaryRoundTripsAt2B4TShapes) {
  TempDir dir;
  std::mt19937 rng(2024);
  GGUFWriter w;
  // bitnet.cpp's architecture, so that id 36 means I2_S.
  w.addString("general.architecture", "bitnet-b1.58");
  std::vector<std::pair<DType, Written>> expected;
  for (DType type : {DType::TQ1_0, DType::TQ2_0, DType::I2_S}) {
    for (const auto &shape : k2B4TShapes) {
      Written t;
      t.name = std::string(info(type).name) + "." + std::to_string(shape[0]) + "x" +
               std::to_string(shape[1]);
      t.shape = shape;
      t.values.resize(shape[0] * shape[1]);
      for (int8_t &v : t.values)
        v = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
      std::vector<uint8_t> bytes;
      if (type == DType::I2_S) {
        t.scales = {0.0123f};
        bytes = encodeI2_S(t.values, t.scales[0]);
      } else {
        t.scales.resize(t.values.size() / 256);
        for (float &s : t.scales)
          s = halfToFloat(static_cast<uint16_t>(0x2000 + rng() % 0x3000)); // positive f16
        bytes = type == DType::TQ1_0 ? encodeTQ1_0(t.values, t.scales)
                                     : encodeTQ2_0(t.values, t.scales);
      }
      w.addTensor(t.name, t.shape, type, std::move(bytes));
      expected.emplace_back(type, std::move(t));
    }
  }
  const std::string path = dir.file("ternary.gguf");
  ASSERT_EQ(errorText(w.write(path)), "");

  auto r = GGUFReader::open(path);
  ASSERT_TRUE(static_cast<bool>(r)) << errorText(r.takeError());
  std::vector<TensorRecord> records = (*r)->records();
  ASSERT_EQ(records.size(), expected.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const auto &[type, want] = expected[i];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(records[i].name, want.name);
    EXPECT_EQ(records[i].dtype, type);
    EXPECT_EQ(records[i].shape, want.shape);
    EXPECT_EQ(records[i].fileOffset % 32, 0u);
    auto t = decodeTernary(records[i]);
    ASSERT_TRUE(static_cast<bool>(t)) << errorText(t.takeError());
    EXPECT_EQ(t->shape, want.shape);
    EXPECT_TRUE(t->values == want.values);
    EXPECT_EQ(t->scales, want.scales);
  }
}

TEST(GGUFWriter, FloatTypesRoundTrip) {
  TempDir dir;
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.0f, 0.05f);
  std::vector<float> x(2560 * 64);
  for (float &v : x)
    v = d(rng);
  GGUFWriter w;
  w.addString("general.architecture", "llama");
  const std::vector<std::vector<uint8_t>> encoded = {encodeBF16(x), encodeQ8_0(x), encodeF16(x)};
  const DType types[] = {DType::BF16, DType::Q8_0, DType::F16};
  for (int i = 0; i < 3; ++i)
    w.addTensor(std::string(info(types[i]).name), {64, 2560}, types[i], encoded[i]);
  const std::string path = dir.file("float.gguf");
  ASSERT_EQ(errorText(w.write(path)), "");
  auto r = GGUFReader::open(path);
  ASSERT_TRUE(static_cast<bool>(r)) << errorText(r.takeError());
  std::vector<TensorRecord> records = (*r)->records();
  ASSERT_EQ(records.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(records[i].name);
    EXPECT_EQ(records[i].dtype, types[i]);
    // The bytes in the file are exactly the encoded ones...
    ASSERT_EQ(records[i].byteSize, encoded[i].size());
    EXPECT_TRUE(std::equal(encoded[i].begin(), encoded[i].end(), records[i].data));
    // ...and decode to the rounded values.
    auto v = decodeToFloat(records[i]);
    ASSERT_TRUE(static_cast<bool>(v)) << errorText(v.takeError());
    for (size_t j = 0; j < x.size(); ++j) {
      float want = types[i] == DType::BF16  ? bf16ToFloat(floatToBF16(x[j]))
                   : types[i] == DType::F16 ? halfToFloat(floatToHalf(x[j]))
                                            : (*v)[j];
      ASSERT_EQ((*v)[j], want) << j;
      ASSERT_NEAR((*v)[j], x[j], 0.01f) << j;
    }
  }
}

TEST(GGUFWriter, RejectsInvalidContent) {
  TempDir dir;
  const std::string path = dir.file("bad.gguf");
  {
    GGUFWriter w;
    w.addUInt32("k", 1);
    w.addUInt32("k", 2);
    std::string msg = errorText(w.write(path));
    EXPECT_NE(msg.find(path + ": key 'k': added twice"), std::string::npos) << msg;
  }
  {
    GGUFWriter w;
    w.addTensor("t", {4, 32}, DType::Q8_0, std::vector<uint8_t>(100));
    std::string msg = errorText(w.write(path));
    EXPECT_NE(msg.find("tensor 't': 100 bytes given, but q8_0 with 128 elements takes 136"),
              std::string::npos)
        << msg;
  }
  {
    GGUFWriter w; // no bitnet.cpp architecture: id 36 is not I2_S
    w.addTensor("t", {128}, DType::I2_S, std::vector<uint8_t>(64));
    EXPECT_NE(errorText(w.write(path)).find("type id 36"), std::string::npos);
  }
  {
    GGUFWriter w(48);
    EXPECT_NE(errorText(w.write(path)).find("not a positive power of two"), std::string::npos);
  }
  EXPECT_FALSE(llvm::sys::fs::exists(path)); // nothing written, no temporary left behind
  std::error_code ec;
  llvm::sys::fs::directory_iterator it(llvm::sys::path::parent_path(path), ec);
  EXPECT_EQ(it, llvm::sys::fs::directory_iterator());
}

TEST(GGUFWriter, StreamsTensorData) {
  TempDir dir;
  GGUFWriter w(128);
  w.addTensor("big", {3, 100}, /*f32*/ 0, 1200, [](llvm::raw_ostream &os) {
    for (int i = 0; i < 300; ++i) {
      float f = static_cast<float>(i);
      os.write(reinterpret_cast<const char *>(&f), 4);
    }
    return llvm::Error::success();
  });
  w.addTensor("short", {4}, 0, 16, [](llvm::raw_ostream &os) {
    os << "abc"; // 3 bytes instead of 16
    return llvm::Error::success();
  });
  std::string msg = errorText(w.write(dir.file("s.gguf")));
  EXPECT_NE(msg.find("tensor 'short': its data writer wrote 3 bytes, expected 16"),
            std::string::npos)
      << msg;
}

} // namespace
} // namespace tern::fe
