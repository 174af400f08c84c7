// Checks the runtime's XXH64 against published vectors and against LLVM's independent one.
#include "tern/artifact/Checksum.h"

#include "llvm/Support/xxhash.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace tern {
namespace {

TEST(Checksum, MatchesPublishedVectors) {
  EXPECT_EQ(xxh64("", 0), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(xxh64("a", 1), 0xD24EC4F1A98C6E5BULL);
  EXPECT_EQ(xxh64("abc", 3), 0x44BC2CF5AD770999ULL);
}

TEST(Checksum, MatchesLLVMxxHash64OnEveryLengthAndSplit) {
  std::mt19937 rng(7);
  std::vector<uint8_t> bytes(300);
  for (uint8_t &b : bytes)
    b = static_cast<uint8_t>(rng());
  for (size_t n = 0; n <= bytes.size(); ++n) {
    uint64_t expected = llvm::xxHash64(llvm::ArrayRef<uint8_t>(bytes.data(), n));
    ASSERT_EQ(xxh64(bytes.data(), n), expected) << "length " << n;
    // Streaming in two uneven pieces must not change the digest.
    Xxh64 state;
    state.update(bytes.data(), n / 3);
    state.update(bytes.data() + n / 3, n - n / 3);
    ASSERT_EQ(state.digest(), expected) << "length " << n << " split at " << n / 3;
  }
}

} // namespace
} // namespace tern
