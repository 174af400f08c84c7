// GGUFReader: every metadata type, placement rules, and one test per kind of bad input.
#include "GGUFTestUtil.h"

#include "frontends/common/TensorDecode.h"
#include "frontends/gguf/GGUFReader.h"
#include "frontends/gguf/GGUFWriter.h"

#include "gtest/gtest.h"

#include <random>

namespace tern::fe {
namespace {

using namespace tern::test;
using V = GGUFWriter::Value;

// A small valid file: 3 metadata entries (one a string array) and two f32 tensors.
HandFile goodFile() {
  HandFile f;
  f.kvs.push_back(kv("general.architecture", 8, ggufString("llama")));
  f.kvs.push_back(kv("tokenizer.ggml.tokens", 9, u32(8) + u64(2) + ggufString("a") + ggufString("bc")));
  f.kvs.push_back(kv("llama.block_count", 4, u32(1)));
  f.infos.push_back(tensorInfo("a", {4, 2}, 0, 0));  // 32 bytes
  f.infos.push_back(tensorInfo("b", {8}, 0, 32));    // 32 bytes
  for (int i = 0; i < 16; ++i)
    f.data += f32(static_cast<float>(i));
  return f;
}

class GGUFReaderTest : public ::testing::Test {
protected:
  // Writes |bytes| and opens them; returns the error text ("" on success).
  std::string openError(const std::string &bytes) {
    path = dir.file("model.gguf");
    writeFile(path, bytes);
    auto r = GGUFReader::open(path);
    if (r) {
      reader = std::move(*r);
      return "";
    }
    return errorText(r.takeError());
  }
  // Asserts that opening |bytes| fails with a message that starts with the path and contains
  // every one of |parts|.
  void expectError(const std::string &bytes, std::initializer_list<const char *> parts) {
    std::string msg = openError(bytes);
    ASSERT_FALSE(msg.empty()) << "expected an error";
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    for (const char *p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }

  TempDir dir;
  std::string path;
  std::unique_ptr<GGUFReader> reader;
};

TEST_F(GGUFReaderTest, ReadsHandBuiltFile) {
  ASSERT_EQ(openError(goodFile().bytes()), "");
  EXPECT_EQ(reader->version(), 3u);
  EXPECT_EQ(reader->alignment(), 32u);
  EXPECT_EQ(reader->architecture(), "llama");
  ASSERT_EQ(reader->metadata().size(), 3u);
  const GGUFValue *tokens = reader->find("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens);
  ASSERT_EQ(tokens->strings.size(), 2u);
  EXPECT_EQ(tokens->strings[1], "bc");
  EXPECT_EQ(reader->find("llama.block_count")->asInt(), 1);
  std::vector<TensorRecord> records = reader->records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].shape, (std::vector<int64_t>{2, 4})); // reversed from ne = {4, 2}
  EXPECT_EQ(records[1].fileOffset, reader->dataOffset() + 32);
  auto values = decodeToFloat(records[1]);
  ASSERT_TRUE(static_cast<bool>(values)) << errorText(values.takeError());
  EXPECT_EQ((*values)[0], 8.0f);
  EXPECT_EQ((*values)[7], 15.0f);
}

TEST_F(GGUFReaderTest, ReadsEveryMetadataTypeWrittenByTheWriter) {
  GGUFWriter w(64, 2); // version 2, non-default alignment
  w.add("u8", V::u8(200));
  w.add("i8", V::i8(-100));
  w.add("u16", V::u16(60000));
  w.add("i16", V::i16(-30000));
  w.add("u32", V::u32(4000000000u));
  w.add("i32", V::i32(-2000000000));
  w.add("u64", V::u64(1ull << 40));
  w.add("i64", V::i64(-(1ll << 40)));
  w.add("f32", V::f32(1.5f));
  w.add("f64", V::f64(-0.125));
  w.add("bool", V::boolean(true));
  w.add("string", V::string("héllo"));
  w.add("strings", V::stringArray({"x", "", "yz"}));
  w.add("floats", V::f32Array({0.5f, -2.0f}));
  w.add("ints", V::i32Array({-1, 2, 3}));
  w.add("nested", V::array(GGUFValueType::Array,
                           {V::u32Array({1, 2}), V::u32Array({}), V::u32Array({3})}));
  w.add("empty", V::array(GGUFValueType::Bool, {}));
  w.addTensor("t", {1, 32}, DType::F32, std::vector<uint8_t>(128, 0));
  const std::string p = dir.file("all.gguf");
  ASSERT_EQ(errorText(w.write(p)), "");

  auto r = GGUFReader::open(p);
  ASSERT_TRUE(static_cast<bool>(r)) << errorText(r.takeError());
  const GGUFReader &g = **r;
  EXPECT_EQ(g.version(), 2u);
  EXPECT_EQ(g.alignment(), 64u);
  EXPECT_EQ(g.dataOffset() % 64, 0u);
  EXPECT_EQ(g.find("u8")->asInt(), 200);
  EXPECT_EQ(g.find("i8")->asInt(), -100);
  EXPECT_EQ(g.find("u16")->asInt(), 60000);
  EXPECT_EQ(g.find("i16")->asInt(), -30000);
  EXPECT_EQ(g.find("u32")->asInt(), 4000000000ll);
  EXPECT_EQ(g.find("i32")->asInt(), -2000000000);
  EXPECT_EQ(g.find("u64")->asInt(), 1ll << 40);
  EXPECT_EQ(g.find("i64")->asInt(), -(1ll << 40));
  EXPECT_EQ(g.find("f32")->asNumber(), 1.5);
  EXPECT_EQ(g.find("f64")->asNumber(), -0.125);
  EXPECT_EQ(g.find("bool")->asBool(), true);
  EXPECT_EQ(g.find("string")->asString(), "héllo");
  EXPECT_EQ(g.find("strings")->strings, (std::vector<llvm::StringRef>{"x", "", "yz"}));
  EXPECT_EQ(g.find("floats")->numberAt(1), -2.0);
  EXPECT_EQ(g.find("ints")->intAt(0), -1);
  const GGUFValue *nested = g.find("nested");
  ASSERT_EQ(nested->arrays.size(), 3u);
  EXPECT_EQ(nested->arrays[0].intAt(1), 2);
  EXPECT_EQ(nested->arrays[1].count, 0u);
  EXPECT_EQ(nested->arrays[2].intAt(0), 3);
  EXPECT_EQ(g.find("empty")->count, 0u);
  EXPECT_EQ(typeText(*nested), "array[array]");
  EXPECT_EQ(valueText(*g.find("strings")), "3 items: [\"x\", \"\", \"yz\"]");
  EXPECT_EQ(valueText(*g.find("u8")), "200");
  EXPECT_EQ(valueText(*g.find("f32")), "1.5");
  // The writer added general.alignment itself because it is not the default.
  EXPECT_EQ(g.find("general.alignment")->asInt(), 64);
}

TEST_F(GGUFReaderTest, RejectsTruncatedHeader) {
  const std::string good = goodFile().bytes();
  expectError(good.substr(0, 2), {"too short"});
  expectError(good.substr(0, 6), {"header version", "truncated"});
  expectError(good.substr(0, 12), {"header tensor count", "truncated"});
  expectError(good.substr(0, 20), {"header metadata count", "truncated"});
}

TEST_F(GGUFReaderTest, RejectsTruncatedKey) {
  // Counts are checked against the remaining bytes first...
  const std::string good = goodFile().bytes();
  expectError(good.substr(0, 28), {"header metadata count 3 is impossible"});
  // ...so a single key, cut 10 bytes into its 20-byte name, reaches the string check.
  HandFile one;
  one.kvs.push_back(kv("general.architecture", 8, ggufString("llama")));
  expectError(one.bytes().substr(0, 24 + 8 + 10),
              {"metadata key #0", "string length 20", "past the end"});
}

TEST_F(GGUFReaderTest, RejectsTruncatedArray) {
  HandFile f = goodFile();
  std::string bytes = f.bytes();
  size_t cut = bytes.find("bc"); // inside the second token of tokenizer.ggml.tokens
  expectError(bytes.substr(0, cut + 1), {"key 'tokenizer.ggml.tokens' value[1]", "past the end"});
}

TEST_F(GGUFReaderTest, RejectsTruncatedTensorInfo) {
  std::string bytes = goodFile().bytes();
  size_t cut = bytes.find(std::string("\x01\x00\x00\x00\x00\x00\x00\x00" "b", 9)); // name of 'b'
  expectError(bytes.substr(0, cut + 9 + 10), {"tensor 'b'", "ne[0]", "truncated"});
  expectError(bytes.substr(0, cut + 4), {"header tensor count 2 is impossible"});
  HandFile one = goodFile();
  one.infos.pop_back();
  one.data.resize(32);
  std::string oneBytes = one.bytes();
  size_t name = oneBytes.rfind(std::string("\x01\x00\x00\x00\x00\x00\x00\x00" "a", 9));
  expectError(oneBytes.substr(0, name + 9 + 4 + 8 + 4), // n_dims, ne[0], half of ne[1]
              {"tensor 'a'", "ne[1]", "truncated"});
}

TEST_F(GGUFReaderTest, RejectsTruncatedTensorData) {
  std::string bytes = goodFile().bytes();
  expectError(bytes.substr(0, bytes.size() - 4),
              {"tensor 'b'", "data [offset", ", 32 bytes] extends past the end of the file"});
}

TEST_F(GGUFReaderTest, RejectsBadMagic) {
  std::string bytes = goodFile().bytes();
  bytes[0] = 'X';
  expectError(bytes, {"bad magic", "58475546"});
}

TEST_F(GGUFReaderTest, RejectsVersion1) {
  HandFile f = goodFile();
  f.version = 1;
  expectError(f.bytes(), {"GGUF version 1 is not supported"});
}

TEST_F(GGUFReaderTest, RejectsVersion99) {
  HandFile f = goodFile();
  f.version = 99;
  expectError(f.bytes(), {"unknown GGUF version 99", "expected version 2 or 3"});
}

TEST_F(GGUFReaderTest, RejectsBigEndianFile) {
  HandFile f = goodFile();
  f.version = 0x03000000;
  expectError(f.bytes(), {"big-endian"});
}

TEST_F(GGUFReaderTest, ReadsVersion2) {
  HandFile f = goodFile();
  f.version = 2;
  ASSERT_EQ(openError(f.bytes()), "");
  EXPECT_EQ(reader->version(), 2u);
}

TEST_F(GGUFReaderTest, RejectsOffsetPastEnd) {
  HandFile f = goodFile();
  f.infos[1] = tensorInfo("b", {8}, 0, 1ull << 62);
  expectError(f.bytes(), {"tensor 'b'", "extends past the end of the file"});
  f.infos[1] = tensorInfo("b", {8}, 0, UINT64_MAX - 31); // aligned, and overflows when added
  expectError(f.bytes(), {"tensor 'b'", "extends past the end of the file"});
}

TEST_F(GGUFReaderTest, RejectsMisalignedOffset) {
  HandFile f = goodFile();
  f.infos[1] = tensorInfo("b", {8}, 0, 33);
  expectError(f.bytes(), {"tensor 'b'", "data offset 33", "not a multiple of the alignment 32"});
}

TEST_F(GGUFReaderTest, RejectsRowNotWholeBlocks) {
  HandFile f = goodFile();
  f.infos[1] = tensorInfo("b", {33}, 8, 32); // q8_0 needs rows of 32
  expectError(f.bytes(), {"tensor 'b'", "row length ne[0] = 33", "q8_0 block of 32"});
}

TEST_F(GGUFReaderTest, RejectsShapeTooLargeForData) {
  HandFile f = goodFile();
  f.infos[1] = tensorInfo("b", {8, 2}, 0, 32); // 64 bytes, but only 32 remain
  expectError(f.bytes(), {"tensor 'b'", "64 bytes] extends past the end"});
}

TEST_F(GGUFReaderTest, RejectsOverlappingTensors) {
  HandFile f = goodFile();
  f.infos[1] = tensorInfo("b", {8}, 0, 0);
  expectError(f.bytes(), {"overlaps tensor"});
}

TEST_F(GGUFReaderTest, RejectsTooManyDimensions) {
  HandFile f = goodFile();
  f.infos[1] = tensorInfo("b", {1, 1, 1, 1, 8}, 0, 32);
  expectError(f.bytes(), {"tensor 'b'", "n_dims is 5"});
}

TEST_F(GGUFReaderTest, RejectsDuplicateTensor) {
  HandFile f = goodFile();
  f.infos[1] = tensorInfo("a", {8}, 0, 32);
  expectError(f.bytes(), {"tensor 'a'", "duplicate tensor name"});
}

TEST_F(GGUFReaderTest, RejectsDuplicateKey) {
  HandFile f = goodFile();
  f.kvs.push_back(kv("llama.block_count", 4, u32(2)));
  expectError(f.bytes(), {"key 'llama.block_count'", "duplicate key"});
}

TEST_F(GGUFReaderTest, RejectsUnknownTypeId) {
  HandFile f = goodFile();
  f.infos[1] = tensorInfo("b", {8}, 99, 32);
  expectError(f.bytes(), {"tensor 'b'", "unknown ggml type id 99"});
}

TEST_F(GGUFReaderTest, RejectsI2SIdOutsideBitnetArchitectures) {
  HandFile f = goodFile(); // general.architecture = llama
  f.infos[1] = tensorInfo("b", {128}, 36, 32);
  expectError(f.bytes(), {"tensor 'b'", "type id 36", "removed", "bitnet.cpp's i2_s only"});
}

TEST_F(GGUFReaderTest, ReadsI2SInBitnetArchitecture) {
  HandFile f = goodFile();
  f.kvs[0] = kv("general.architecture", 8, ggufString("bitnet-b1.58"));
  f.infos[1] = tensorInfo("b", {128}, 36, 32); // 32 bytes of codes + 32-byte scale tail
  f.data += std::string(32, '\x55') + f32(0.5f) + std::string(28, '\0');
  f.data.erase(32, 32); // drop the old 'b' floats: codes start right at offset 32
  ASSERT_EQ(openError(f.bytes()), "");
  ASSERT_EQ(reader->tensorInfos()[1].type.dtype, DType::I2_S);
  EXPECT_EQ(reader->tensorInfos()[1].byteSize, 64u);
}

TEST_F(GGUFReaderTest, RejectsBitnetCppLutTypes) {
  HandFile f = goodFile();
  f.kvs[0] = kv("general.architecture", 8, ggufString("bitnet-b1.58"));
  f.infos[1] = tensorInfo("b", {128}, 39, 32);
  expectError(f.bytes(), {"tensor 'b'", "tl2", "re-quantize"});
}

TEST_F(GGUFReaderTest, RejectsHugeMetadataCount) {
  HandFile f = goodFile();
  f.kvCount = 1ll << 60;
  expectError(f.bytes(), {"header metadata count", "is impossible"});
}

TEST_F(GGUFReaderTest, RejectsHugeTensorCount) {
  HandFile f = goodFile();
  f.tensorCount = 1ll << 60;
  expectError(f.bytes(), {"header tensor count", "is impossible"});
}

TEST_F(GGUFReaderTest, RejectsHugeArrayLength) {
  HandFile f = goodFile();
  f.kvs[1] = kv("tokenizer.ggml.tokens", 9, u32(8) + u64(1ull << 61));
  expectError(f.bytes(), {"key 'tokenizer.ggml.tokens'", "array of", "cannot fit"});
}

TEST_F(GGUFReaderTest, RejectsHugeStringLength) {
  HandFile f = goodFile();
  f.kvs[0] = ggufString("general.architecture") + u32(8) + u64(~0ull);
  expectError(f.bytes(), {"key 'general.architecture' value", "string length", "past the end"});
}

TEST_F(GGUFReaderTest, RejectsDeeplyNestedArrays) {
  HandFile f = goodFile();
  std::string nested;
  for (int i = 0; i < 40; ++i)
    nested += u32(9) + u64(1);
  f.kvs.push_back(ggufString("deep") + u32(9) + nested + u32(4) + u64(0));
  expectError(f.bytes(), {"key 'deep'", "nested more than 32 deep"});
}

TEST_F(GGUFReaderTest, RejectsUnknownValueType) {
  HandFile f = goodFile();
  f.kvs[2] = kv("llama.block_count", 13, u32(1));
  expectError(f.bytes(), {"key 'llama.block_count' type", "unknown metadata value type 13"});
}

TEST_F(GGUFReaderTest, RejectsBadBool) {
  HandFile f = goodFile();
  f.kvs.push_back(kv("flag", 7, std::string(1, '\x02')));
  expectError(f.bytes(), {"key 'flag'", "neither 0 nor 1"});
}

TEST_F(GGUFReaderTest, RejectsAlignmentNotPowerOfTwo) {
  HandFile f = goodFile();
  f.kvs.push_back(kv("general.alignment", 4, u32(48)));
  expectError(f.bytes(), {"key 'general.alignment'", "48 is not a positive power of two"});
  f.kvs.back() = kv("general.alignment", 8, ggufString("32"));
  expectError(f.bytes(), {"key 'general.alignment'", "expected an unsigned integer"});
}

TEST_F(GGUFReaderTest, RejectsMissingFile) {
  path = dir.file("absent.gguf");
  auto r = GGUFReader::open(path);
  ASSERT_FALSE(static_cast<bool>(r));
  std::string msg = errorText(r.takeError());
  EXPECT_EQ(msg.rfind(path + ": cannot read", 0), 0u) << msg;
}

TEST_F(GGUFReaderTest, NeverCrashesOnAnyTruncation) {
  // Every prefix of a valid file is rejected with a message naming the file; none crashes.
  const std::string good = goodFile().bytes();
  for (size_t n = 0; n < good.size(); ++n) {
    std::string msg = openError(good.substr(0, n));
    ASSERT_FALSE(msg.empty()) << "prefix of " << n << " bytes accepted";
    ASSERT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
  }
}

TEST_F(GGUFReaderTest, NeverCrashesOnCorruptedBytes) {
  // Random byte changes anywhere before the data: each file either parses or is rejected with a
  // message naming the file (the sanitizer build runs this too).
  const std::string good = goodFile().bytes();
  const size_t headerBytes = good.size() - 64;
  std::mt19937 rng(99);
  for (int i = 0; i < 3000; ++i) {
    std::string bad = good;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k)
      bad[rng() % headerBytes] = static_cast<char>(rng());
    std::string msg = openError(bad);
    if (!msg.empty())
      ASSERT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
  }
}

} // namespace
} // namespace tern::fe
