// Tests of the SafeTensors writer: header bytes, JSON entries, alignment, data and failures.
#include "SafeTensors.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

namespace tern::cli {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

std::string tempPath(const char* name) {
  return ::testing::TempDir() + "/" + name + "." + std::to_string(getpid());
}

TEST(SafeTensors, WritesAHeaderAndLittleEndianFloats) {
  const std::string path = tempPath("logits.safetensors");
  const float logits[6] = {1.0f, -2.5f, 3.25f, 0.0f, -0.0f, 1e-3f}; // (2, 3)
  const float extra[1] = {7.0f};
  std::string error;
  ASSERT_TRUE(writeSafeTensors(path, {F32Tensor{"logits", {2, 3}, logits},
                                      F32Tensor{"extra", {1}, extra}},
                               &error))
      << error;
  const std::string bytes = readFile(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i)
    header_size = header_size << 8 | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ((8 + header_size) % 8, 0u) << "data must start 8-byte aligned";
  ASSERT_EQ(bytes.size(), 8 + header_size + 7 * sizeof(float));

  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_size), nullptr, false);
  ASSERT_FALSE(header.is_discarded());
  EXPECT_EQ(header["logits"]["dtype"], "F32");
  EXPECT_EQ(header["logits"]["shape"], nlohmann::json::array({2, 3}));
  EXPECT_EQ(header["logits"]["data_offsets"], nlohmann::json::array({0, 24}));
  EXPECT_EQ(header["extra"]["data_offsets"], nlohmann::json::array({24, 28}));
  // The first key is the first tensor, as the data order.
  EXPECT_EQ(bytes.find("\"logits\""), 9u);

  float read[7];
  std::memcpy(read, bytes.data() + 8 + header_size, sizeof(read));
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(std::memcmp(&read[i], &logits[i], sizeof(float)), 0) << i;
  EXPECT_EQ(read[6], 7.0f);
  // Little-endian 1.0f is 00 00 80 3f.
  EXPECT_EQ(bytes.substr(8 + header_size, 4), std::string("\x00\x00\x80\x3f", 4));
  std::remove(path.c_str());
}

TEST(SafeTensors, ReplacesAnExistingFile) {
  const std::string path = tempPath("replace.safetensors");
  { std::ofstream(path) << "old contents that are longer than the new file will be"; }
  const float value[1] = {2.0f};
  std::string error;
  ASSERT_TRUE(writeSafeTensors(path, {F32Tensor{"logits", {1, 1}, value}}, &error)) << error;
  EXPECT_EQ(readFile(path).find("old contents"), std::string::npos);
  std::remove(path.c_str());
}

TEST(SafeTensors, ReportsAnUnwritablePathAndLeavesNoTemporaryFile) {
  const std::string path = ::testing::TempDir() + "/no-such-directory/out.safetensors";
  const float value[1] = {2.0f};
  std::string error;
  EXPECT_FALSE(writeSafeTensors(path, {F32Tensor{"logits", {1, 1}, value}}, &error));
  EXPECT_NE(error.find("no-such-directory"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
}

} // namespace
} // namespace tern::cli
