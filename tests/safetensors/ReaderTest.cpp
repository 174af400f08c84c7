// SafeTensorsReader: zero-copy reads of good files and one clear error for each kind of bad one.
#include "TestFiles.h"

#include "frontends/safetensors/SafeTensorsReader.h"

#include "llvm/Support/Error.h"
#include "gtest/gtest.h"

using namespace tern;
using namespace tern::fe;
using namespace tern::test;

namespace {

// The reader's error text for |path|, or "" when it opened.
std::string openError(const std::string &path) {
  auto r = SafeTensorsReader::open(path);
  if (r)
    return "";
  return llvm::toString(r.takeError());
}

std::string header(const std::string &body) { return "{" + body + "}"; }

TEST(SafeTensorsReader, ReadsTensorsZeroCopyWithAbsoluteOffsets) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  writeSafeTensors(path, {{"b", "F16", {2, 3}}, {"a", "F32", {4}}, {"c", "U8", {0}}});
  auto reader = SafeTensorsReader::open(path);
  ASSERT_TRUE(!!reader) << llvm::toString(reader.takeError());
  const auto &ts = (*reader)->tensors();
  ASSERT_EQ(ts.size(), 3u);
  // File order is data order: "b" was written first.
  EXPECT_EQ(ts[0].name, "b");
  EXPECT_EQ(ts[0].dtype, DType::F16);
  EXPECT_EQ(ts[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ts[0].byteSize, 12u);
  EXPECT_EQ(ts[1].name, "a");
  EXPECT_EQ(ts[1].byteSize, 16u);
  EXPECT_EQ(ts[1].fileOffset, ts[0].fileOffset + 12);
  EXPECT_EQ(ts[1].file, path);
  // Data section byte i is (i * 7) & 0xff; "a" starts at data byte 12.
  EXPECT_EQ(ts[1].data[0], (12 * 7) & 0xff);
  EXPECT_EQ(ts[1].data - ts[0].data, 12);
  EXPECT_EQ(ts[2].byteSize, 0u);
  ASSERT_EQ((*reader)->metadata().size(), 1u);
  EXPECT_EQ((*reader)->metadata()[0], (std::pair<std::string, std::string>{"format", "pt"}));
}

TEST(SafeTensorsReader, RejectsTruncatedHeaderLength) {
  TempDir dir;
  std::string path = dir.file("short.safetensors");
  writeFile(path, std::string("\x10\x00\x00", 3));
  std::string err = openError(path);
  EXPECT_NE(err.find(path + ": file is 3 bytes"), std::string::npos) << err;
  EXPECT_NE(err.find("8-byte little-endian header length"), std::string::npos) << err;
}

TEST(SafeTensorsReader, RejectsHeaderLengthPastEOF) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  writeFile(path, safeTensorsBytes(4096, header(""), ""));
  std::string err = openError(path);
  EXPECT_NE(err.find(path + ": header length 4096 runs past the end of the file (2 bytes"),
            std::string::npos)
      << err;
}

TEST(SafeTensorsReader, RejectsHeaderLengthOverTheLimit) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  writeFile(path, safeTensorsBytes(~0ull, header(""), ""));
  std::string err = openError(path);
  EXPECT_NE(err.find(path + ": header length 18446744073709551615 exceeds the limit"),
            std::string::npos)
      << err;
}

TEST(SafeTensorsReader, RejectsBadJSON) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  std::string h = "{\"w\": {\"dtype\": \"F32\",\n \"shape\": [1] \"data_offsets\": [0, 4]}}";
  writeFile(path, safeTensorsBytes(h.size(), h, std::string(4, '\0')));
  std::string err = openError(path);
  EXPECT_NE(err.find(path + ": header is not valid JSON"), std::string::npos) << err;
  EXPECT_NE(err.find("[2:"), std::string::npos) << "names line 2: " << err;
}

TEST(SafeTensorsReader, RejectsNonObjectHeader) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  writeFile(path, safeTensorsBytes(2, "[]", ""));
  EXPECT_NE(openError(path).find(path + ": header must be a JSON object, got an array"),
            std::string::npos);
}

TEST(SafeTensorsReader, RejectsNonStringMetadata) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  std::string h = header("\"__metadata__\": {\"format\": 1}");
  writeFile(path, safeTensorsBytes(h.size(), h, ""));
  std::string err = openError(path);
  EXPECT_NE(err.find(path + ": '__metadata__' key 'format' must be a string, got a number"),
            std::string::npos)
      << err;
}

TEST(SafeTensorsReader, RejectsUnknownDType) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  std::string h = header(
      "\"model.norm.weight\": {\"dtype\": \"F8_E4M3\", \"shape\": [4], \"data_offsets\": [0, 4]}");
  writeFile(path, safeTensorsBytes(h.size(), h, std::string(4, '\0')));
  std::string err = openError(path);
  EXPECT_NE(err.find(path + ": tensor 'model.norm.weight': unknown dtype 'F8_E4M3'"),
            std::string::npos)
      << err;
}

TEST(SafeTensorsReader, RejectsNegativeShape) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  std::string h = header("\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}");
  writeFile(path, safeTensorsBytes(h.size(), h, std::string(4, '\0')));
  EXPECT_NE(openError(path).find(path + ": tensor 'w': shape entries must be non-negative"),
            std::string::npos);
}

TEST(SafeTensorsReader, RejectsOffsetsOutOfRange) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  std::string h = header("\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}");
  writeFile(path, safeTensorsBytes(h.size(), h, std::string(16, '\0')));
  std::string err = openError(path);
  EXPECT_NE(err.find(path + ": tensor 'w': data_offsets [8, 24] lie outside the data section "
                            "of 16 bytes"),
            std::string::npos)
      << err;
}

TEST(SafeTensorsReader, RejectsReversedOffsets) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  std::string h = header("\"w\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [4, 0]}");
  writeFile(path, safeTensorsBytes(h.size(), h, std::string(4, '\0')));
  EXPECT_NE(openError(path).find(path + ": tensor 'w': data_offsets [4, 0] end before they begin"),
            std::string::npos);
}

TEST(SafeTensorsReader, RejectsOverlappingTensors) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  std::string h =
      header("\"first\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
             "\"second\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}");
  writeFile(path, safeTensorsBytes(h.size(), h, std::string(16, '\0')));
  std::string err = openError(path);
  EXPECT_NE(err.find(path + ": tensor 'second': data_offsets [8, 16] overlap tensor 'first' "
                            "[0, 16]"),
            std::string::npos)
      << err;
}

TEST(SafeTensorsReader, RejectsByteCountMismatch) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  std::string h = header("\"model.layers.0.self_attn.q_proj.weight\": {\"dtype\": \"F32\", "
                         "\"shape\": [64, 64], \"data_offsets\": [0, 4096]}");
  writeFile(path, safeTensorsBytes(h.size(), h, std::string(4096, '\0')));
  std::string err = openError(path);
  EXPECT_NE(err.find(path + ": tensor 'model.layers.0.self_attn.q_proj.weight': data_offsets "
                            "[0, 4096] give 4096 bytes, but F32 [64, 64] needs 16384"),
            std::string::npos)
      << err;
}

TEST(SafeTensorsReader, RejectsMissingDataOffsets) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  std::string h = header("\"w\": {\"dtype\": \"F32\", \"shape\": [1]}");
  writeFile(path, safeTensorsBytes(h.size(), h, std::string(4, '\0')));
  EXPECT_NE(openError(path).find(path + ": tensor 'w': 'data_offsets' must be [begin, end]"),
            std::string::npos);
}

// Writes model.safetensors.index.json with the given weight_map entries.
void writeIndex(const TempDir &dir, const std::string &weightMap) {
  writeFile(dir.file("model.safetensors.index.json"),
            "{\"metadata\": {\"total_size\": 48}, \"weight_map\": {" + weightMap + "}}");
}

TEST(SafeTensorsReader, ReadsShardedIndex) {
  TempDir dir;
  writeSafeTensors(dir.file("model-00001-of-00002.safetensors"), {{"a", "F32", {4}}});
  writeSafeTensors(dir.file("model-00002-of-00002.safetensors"),
                   {{"b", "F32", {4}}, {"c", "BF16", {8}}});
  writeIndex(dir, "\"a\": \"model-00001-of-00002.safetensors\","
                  "\"b\": \"model-00002-of-00002.safetensors\","
                  "\"c\": \"model-00002-of-00002.safetensors\"");
  auto reader = SafeTensorsReader::open(dir.file("model.safetensors.index.json"));
  ASSERT_TRUE(!!reader) << llvm::toString(reader.takeError());
  const auto &ts = (*reader)->tensors();
  ASSERT_EQ(ts.size(), 3u);
  EXPECT_EQ(ts[0].name, "a");
  EXPECT_EQ(ts[0].file, dir.file("model-00001-of-00002.safetensors"));
  EXPECT_EQ(ts[2].name, "c");
  EXPECT_EQ(ts[2].file, dir.file("model-00002-of-00002.safetensors"));
  EXPECT_EQ(ts[2].dtype, DType::BF16);
  EXPECT_EQ((*reader)->files().size(), 2u);
}

TEST(SafeTensorsReader, RejectsDuplicateTensorAcrossShards) {
  TempDir dir;
  writeSafeTensors(dir.file("s1.safetensors"), {{"model.norm.weight", "F32", {4}}});
  writeSafeTensors(dir.file("s2.safetensors"),
                   {{"model.norm.weight", "F32", {4}}, {"b", "F32", {4}}});
  writeIndex(dir, "\"model.norm.weight\": \"s1.safetensors\", \"b\": \"s2.safetensors\"");
  std::string err = openError(dir.file("model.safetensors.index.json"));
  EXPECT_NE(err.find(dir.file("s2.safetensors") +
                     ": tensor 'model.norm.weight' is also in shard 's1.safetensors'"),
            std::string::npos)
      << err;
}

TEST(SafeTensorsReader, RejectsIndexNamingMissingShard) {
  TempDir dir;
  writeSafeTensors(dir.file("s1.safetensors"), {{"a", "F32", {4}}});
  writeIndex(dir, "\"a\": \"s1.safetensors\", \"lm_head.weight\": \"s2.safetensors\"");
  std::string index = dir.file("model.safetensors.index.json");
  std::string err = openError(index);
  EXPECT_NE(err.find(index + ": shard 's2.safetensors' (named for tensor 'lm_head.weight') "
                             "does not exist"),
            std::string::npos)
      << err;
}

TEST(SafeTensorsReader, RejectsIndexNamingTensorAbsentFromShard) {
  TempDir dir;
  writeSafeTensors(dir.file("s1.safetensors"), {{"a", "F32", {4}}});
  writeIndex(dir, "\"a\": \"s1.safetensors\", \"b\": \"s1.safetensors\"");
  std::string index = dir.file("model.safetensors.index.json");
  std::string err = openError(index);
  EXPECT_NE(err.find(index + ": weight_map puts tensor 'b' in shard 's1.safetensors', but that "
                             "shard has no such tensor"),
            std::string::npos)
      << err;
}

TEST(SafeTensorsReader, RejectsIndexShardOutsideItsDirectory) {
  TempDir dir;
  writeIndex(dir, "\"a\": \"../elsewhere.safetensors\"");
  std::string index = dir.file("model.safetensors.index.json");
  EXPECT_NE(openError(index).find(index + ": weight_map entry for tensor 'a' names shard "
                                          "'../elsewhere.safetensors'"),
            std::string::npos);
}

TEST(SafeTensorsReader, RejectsIndexWithoutWeightMap) {
  TempDir dir;
  std::string index = dir.file("model.safetensors.index.json");
  writeFile(index, "{\"metadata\": {}}");
  EXPECT_NE(openError(index).find(index + ": missing object 'weight_map'"), std::string::npos);
}

} // namespace
