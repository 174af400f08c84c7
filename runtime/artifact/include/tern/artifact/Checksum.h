// XXH64 (seed 0): the checksum of every section and of the artifact's FlatBuffer.
#ifndef TERN_ARTIFACT_CHECKSUM_H
#define TERN_ARTIFACT_CHECKSUM_H

#include <cstddef>
#include <cstdint>

namespace tern {

// Incremental XXH64, so the writer can checksum bytes as it streams them to disk.
// The digest equals the one-shot xxh64() of the concatenated input.
class Xxh64 {
public:
  Xxh64();
  void update(const void *data, size_t size);
  uint64_t digest() const;

private:
  uint64_t acc_[4];
  uint8_t buffer_[32]; // a partial 32-byte stripe
  size_t buffered_ = 0;
  uint64_t total_ = 0;
};

// XXH64 of |size| bytes at |data| with seed 0.
uint64_t xxh64(const void *data, size_t size);

} // namespace tern

#endif
