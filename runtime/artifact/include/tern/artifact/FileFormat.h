// The fixed header at the start of every `.tern` file and the format's constants.
#ifndef TERN_ARTIFACT_FILEFORMAT_H
#define TERN_ARTIFACT_FILEFORMAT_H

#include <cstddef>
#include <cstdint>

namespace tern {

// Bumped only for changes old readers cannot skip over; appended schema fields keep it.
constexpr uint32_t kArtifactFormatVersion = 1;
// Sections start on this boundary so weights can be used in place with aligned vector loads.
constexpr uint64_t kArtifactSectionAlignment = 64;
// 0x89 and CR LF SUB catch 7-bit and text-mode transfers, as PNG's signature does.
constexpr uint8_t kArtifactMagic[8] = {0x89, 'T', 'E', 'R', 'N', '\r', '\n', 0x1a};

// All integers little-endian. The FlatBuffer follows at |flatbufferOffset|, then the sections.
// Every byte of the file is covered: the header by |headerChecksum|, the FlatBuffer by
// |flatbufferChecksum|, each section by its own checksum, and all padding must be zero.
struct ArtifactFileHeader {
  uint8_t magic[8];
  uint32_t formatVersion;
  uint32_t headerSize;        // sizeof(ArtifactFileHeader)
  uint64_t flatbufferOffset;  // == headerSize
  uint64_t flatbufferSize;
  uint64_t flatbufferChecksum; // XXH64 of the FlatBuffer's bytes
  uint64_t fileSize;          // the whole file; a shorter file was truncated
  uint64_t reserved;          // zero
  uint64_t headerChecksum;    // XXH64 of the 56 bytes before this field
};
static_assert(sizeof(ArtifactFileHeader) == 64, "the header layout is part of the format");
constexpr size_t kArtifactHeaderChecksummedBytes = offsetof(ArtifactFileHeader, headerChecksum);

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the artifact header is read in place: big-endian hosts need byte swapping first"
#endif

} // namespace tern

#endif
