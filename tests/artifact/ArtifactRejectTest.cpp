// Damaged, foreign or unrunnable artifacts must be refused with a status that says why.
#include "ArtifactTestUtil.h"

#include "tern/artifact/Checksum.h"
#include "tern/artifact/FileFormat.h"
#include "tern/artifact/HostCpu.h"

#include <cstring>

namespace tern {
namespace {

using test::ScratchDir;
using test::Status;

std::vector<uint8_t> smallArtifactBytes(ScratchDir &dir) {
  test::SmallArtifact small;
  std::string path = dir.file("small.tern");
  if (llvm::Error error = writeArtifact(path, small.contents)) {
    ADD_FAILURE() << llvm::toString(std::move(error));
    return {};
  }
  return test::readFile(path);
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Artifact, RejectsEveryFlippedByte) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = smallArtifactBytes(dir);
  ASSERT_GT(bytes.size(), 256u);
  {
    Status status;
    ASSERT_TRUE(Artifact::openMemory(bytes.data(), bytes.size(), "small.tern", &status.status))
        << status.message();
  }
  for (uint8_t mask : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)})
    for (size_t i = 0; i < bytes.size(); ++i) {
      std::vector<uint8_t> damaged = bytes;
      damaged[i] ^= mask;
      Status status;
      auto artifact =
          Artifact::openMemory(damaged.data(), damaged.size(), "small.tern", &status.status);
      ASSERT_FALSE(artifact) << "byte " << i << " ^ " << int(mask) << " went unnoticed";
      // The version field gives UNIMPLEMENTED (a reader cannot tell a flip from a newer file).
      bool inVersion = i >= offsetof(ArtifactFileHeader, formatVersion) &&
                       i < offsetof(ArtifactFileHeader, formatVersion) + 4;
      ASSERT_EQ(status.code(), inVersion ? TERN_STATUS_UNIMPLEMENTED : TERN_STATUS_DATA_LOSS)
          << "byte " << i << ": " << status.message();
      ASSERT_TRUE(contains(status.message(), "small.tern")) << status.message();
    }
}

TEST(Artifact, RejectsTruncatedFile) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = smallArtifactBytes(dir);
  ASSERT_FALSE(bytes.empty());
  for (size_t size : {size_t(0), size_t(1), size_t(63), size_t(64), size_t(100),
                      bytes.size() / 2, bytes.size() - 37, bytes.size() - 1}) {
    std::string path = dir.file("truncated.tern");
    test::writeFile(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + size));
    Status status;
    EXPECT_FALSE(Artifact::open(path.c_str(), &status.status)) << size;
    EXPECT_EQ(status.code(), TERN_STATUS_DATA_LOSS) << size << ": " << status.message();
    EXPECT_TRUE(contains(status.message(), "truncated")) << status.message();
    EXPECT_TRUE(contains(status.message(), path)) << status.message();
  }
}

TEST(Artifact, RejectsUnknownFormatVersionNamingBoth) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = smallArtifactBytes(dir);
  ASSERT_FALSE(bytes.empty());
  // A well-formed header from a future writer: only the version differs, checksum updated.
  ArtifactFileHeader header;
  std::memcpy(&header, bytes.data(), sizeof(header));
  header.formatVersion = kArtifactFormatVersion + 1;
  header.headerChecksum = xxh64(&header, kArtifactHeaderChecksummedBytes);
  std::memcpy(bytes.data(), &header, sizeof(header));
  std::string path = dir.file("future.tern");
  test::writeFile(path, bytes);
  Status status;
  EXPECT_FALSE(Artifact::open(path.c_str(), &status.status));
  EXPECT_EQ(status.code(), TERN_STATUS_UNIMPLEMENTED) << status.message();
  std::string found = "format version " + std::to_string(kArtifactFormatVersion + 1);
  std::string supported = "supports format version " + std::to_string(kArtifactFormatVersion);
  EXPECT_TRUE(contains(status.message(), found)) << status.message();
  EXPECT_TRUE(contains(status.message(), supported)) << status.message();
  EXPECT_TRUE(contains(status.message(), path)) << status.message();
}

TEST(Artifact, RejectsMissingCpuFeatureNamingIt) {
  test::SmallArtifact small;
  small.contents.target.triple = std::string(hostArchitecture()) + "-unknown-linux-gnu";
  small.contents.target.cpu_features = {"tern-fake-feature"};
  ScratchDir dir;
  std::string path = dir.file("needs-fake.tern");
  ASSERT_FALSE(static_cast<bool>(writeArtifact(path, small.contents)));
  Status status;
  EXPECT_FALSE(Artifact::open(path.c_str(), &status.status));
  EXPECT_EQ(status.code(), TERN_STATUS_UNAVAILABLE) << status.message();
  EXPECT_TRUE(contains(status.message(), "tern-fake-feature")) << status.message();
  // Tools that only inspect the artifact may skip the host check.
  Status inspect;
  ArtifactOpenOptions options;
  options.checkHostCpu = false;
  EXPECT_TRUE(Artifact::open(path.c_str(), &inspect.status, options)) << inspect.message();
}

TEST(Artifact, RejectsOtherArchitecture) {
  test::SmallArtifact small;
  small.contents.target.triple =
      std::string(hostArchitecture()) == "x86_64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  ScratchDir dir;
  std::string path = dir.file("foreign.tern");
  ASSERT_FALSE(static_cast<bool>(writeArtifact(path, small.contents)));
  Status status;
  EXPECT_FALSE(Artifact::open(path.c_str(), &status.status));
  EXPECT_EQ(status.code(), TERN_STATUS_UNAVAILABLE) << status.message();
  EXPECT_TRUE(contains(status.message(), small.contents.target.triple)) << status.message();
}

TEST(Artifact, ReportsMissingFile) {
  ScratchDir dir;
  std::string path = dir.file("absent.tern");
  Status status;
  EXPECT_FALSE(Artifact::open(path.c_str(), &status.status));
  EXPECT_EQ(status.code(), TERN_STATUS_NOT_FOUND);
  EXPECT_TRUE(contains(status.message(), path)) << status.message();
}

TEST(ArtifactWriter, LeavesNothingWhenDirectoryIsMissing) {
  test::SmallArtifact small;
  ScratchDir dir;
  std::string path = dir.file("no-such-dir/model.tern");
  llvm::Error error = writeArtifact(path, small.contents);
  ASSERT_TRUE(static_cast<bool>(error));
  EXPECT_TRUE(contains(llvm::toString(std::move(error)), "model.tern"));
  EXPECT_FALSE(llvm::sys::fs::exists(path));
  EXPECT_TRUE(dir.entries().empty());
}

TEST(ArtifactWriter, LeavesNothingWhenASectionFails) {
  test::SmallArtifact small;
  small.contents.sections[1].produce = [](llvm::raw_ostream &out) -> llvm::Error {
    out << "partial";
    return llvm::createStringError("packing failed");
  };
  ScratchDir dir;
  std::string path = dir.file("model.tern");
  llvm::Error error = writeArtifact(path, small.contents);
  ASSERT_TRUE(static_cast<bool>(error));
  std::string message = llvm::toString(std::move(error));
  EXPECT_TRUE(contains(message, "packing failed")) << message;
  EXPECT_TRUE(contains(message, "kernels")) << message;
  EXPECT_TRUE(dir.entries().empty());
}

TEST(ArtifactWriter, RejectsSectionSizeMismatch) {
  test::SmallArtifact small;
  small.contents.sections[1].size += 1; // the producer writes one byte less than declared
  ScratchDir dir;
  llvm::Error error = writeArtifact(dir.file("model.tern"), small.contents);
  ASSERT_TRUE(static_cast<bool>(error));
  EXPECT_TRUE(contains(llvm::toString(std::move(error)), "declares 38 bytes"));
  EXPECT_TRUE(dir.entries().empty());
}

} // namespace
} // namespace tern
