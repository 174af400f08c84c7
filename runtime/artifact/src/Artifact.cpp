// Opens a `.tern` artifact: maps it read-only and checks every byte before anything uses it.
#include "tern/artifact/Artifact.h"

#include "tern/artifact/Checksum.h"
#include "tern/artifact/FileFormat.h"
#include "tern/artifact/HostCpu.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tern {
namespace {

// Sets |*status| to |code| with "<name>: <printf message>"; returns false for `return fail(...)`.
__attribute__((format(printf, 4, 5))) bool fail(tern_status_t *status, tern_status_code_t code,
                                                const std::string &name, const char *format,
                                                ...) {
  char detail[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(detail, sizeof(detail), format, args);
  va_end(args);
  std::string message = name + ": " + detail;
  *status = tern_status_create(code, message.c_str());
  return false;
}

bool allZero(const uint8_t *p, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i)
    if (p[i])
      return false;
  return true;
}

std::string sectionLabel(const schema::Section &section, size_t index) {
  std::string label = "section " + std::to_string(index);
  if (section.name())
    label += " '" + std::string(section.name()->c_str()) + "'";
  return label;
}

// The checks, cheapest and most fundamental first, so the message names the first real fault.
class Verifier {
public:
  Verifier(const uint8_t *data, size_t size, const std::string &name, tern_status_t *status)
      : data_(data), size_(size), name_(name), status_(status) {}

  bool header(ArtifactFileHeader &h) {
    if (size_ < sizeof(ArtifactFileHeader))
      return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                  "truncated: %zu bytes, the header alone needs %zu", size_,
                  sizeof(ArtifactFileHeader));
    std::memcpy(&h, data_, sizeof(h));
    if (std::memcmp(h.magic, kArtifactMagic, sizeof(kArtifactMagic)) != 0)
      return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                  "not a .tern artifact (bad magic in the header)");
    // The version comes before the checksum: another version may lay its header out differently.
    if (h.formatVersion != kArtifactFormatVersion)
      return fail(status_, TERN_STATUS_UNIMPLEMENTED, name_,
                  "artifact format version %u, but this runtime supports format version %u; "
                  "recompile the model with a matching ternc",
                  h.formatVersion, kArtifactFormatVersion);
    if (xxh64(data_, kArtifactHeaderChecksummedBytes) != h.headerChecksum)
      return fail(status_, TERN_STATUS_DATA_LOSS, name_, "header checksum mismatch");
    if (h.headerSize != sizeof(ArtifactFileHeader) || h.reserved != 0)
      return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                  "header field headerSize/reserved has an unexpected value");
    if (h.fileSize != size_)
      return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                  "file is %zu bytes but its header records %llu%s", size_,
                  static_cast<unsigned long long>(h.fileSize),
                  size_ < h.fileSize ? " (truncated)" : " (trailing bytes)");
    if (h.flatbufferOffset != sizeof(ArtifactFileHeader) ||
        h.flatbufferSize > size_ - h.flatbufferOffset)
      return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                  "header field flatbuffer offset/size (%llu, %llu) lies outside the file",
                  static_cast<unsigned long long>(h.flatbufferOffset),
                  static_cast<unsigned long long>(h.flatbufferSize));
    return true;
  }

  bool flatbuffer(const ArtifactFileHeader &h, const schema::Artifact *&root) {
    const uint8_t *fb = data_ + h.flatbufferOffset;
    if (xxh64(fb, h.flatbufferSize) != h.flatbufferChecksum)
      return fail(status_, TERN_STATUS_DATA_LOSS, name_, "flatbuffer checksum mismatch");
    if (!flatbuffers::BufferHasIdentifier(fb, schema::ArtifactIdentifier()) &&
        h.flatbufferSize >= 8)
      return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                  "flatbuffer lacks the file identifier '%s'", schema::ArtifactIdentifier());
    flatbuffers::Verifier verifier(fb, h.flatbufferSize);
    if (h.flatbufferSize < 8 || !schema::VerifyArtifactBuffer(verifier))
      return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                  "flatbuffer fails verification (malformed tables or offsets)");
    root = schema::GetArtifact(fb);
    if (root->format_version() != h.formatVersion)
      return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                  "field format_version (%u) disagrees with the header (%u)",
                  root->format_version(), h.formatVersion);
    return true;
  }

  // Sections must be in offset order, inside the file, aligned, intact; the gaps between them
  // must be zero so that no byte of the file escapes a check.
  bool sections(const ArtifactFileHeader &h, const schema::Artifact &root) {
    uint64_t cursor = h.flatbufferOffset + h.flatbufferSize;
    const auto *sections = root.sections();
    size_t count = sections ? sections->size() : 0;
    for (size_t i = 0; i < count; ++i) {
      const schema::Section &s = *sections->Get(i);
      std::string label = sectionLabel(s, i);
      uint64_t align = s.alignment();
      if (align < kArtifactSectionAlignment || (align & (align - 1)) != 0)
        return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                    "%s: field alignment %llu is not a power of two >= %llu", label.c_str(),
                    static_cast<unsigned long long>(align),
                    static_cast<unsigned long long>(kArtifactSectionAlignment));
      if (s.offset() % align != 0)
        return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                    "%s: field offset %llu is not a multiple of its alignment %llu",
                    label.c_str(), static_cast<unsigned long long>(s.offset()),
                    static_cast<unsigned long long>(align));
      if (s.offset() < cursor || s.offset() > size_ || s.size() > size_ - s.offset())
        return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                    "%s: bytes [%llu, +%llu) overlap an earlier part or run past the end "
                    "of the %zu-byte file",
                    label.c_str(), static_cast<unsigned long long>(s.offset()),
                    static_cast<unsigned long long>(s.size()), size_);
      if (!allZero(data_ + cursor, s.offset() - cursor))
        return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                    "non-zero padding before %s", label.c_str());
      if (xxh64(data_ + s.offset(), s.size()) != s.checksum())
        return fail(status_, TERN_STATUS_DATA_LOSS, name_, "%s: checksum mismatch",
                    label.c_str());
      cursor = s.offset() + s.size();
    }
    if (!allZero(data_ + cursor, size_ - cursor))
      return fail(status_, TERN_STATUS_DATA_LOSS, name_, "non-zero bytes after the last section");
    return true;
  }

  bool references(const schema::Artifact &root) {
    size_t numSections = root.sections() ? root.sections()->size() : 0;
    if (const auto *libraries = root.kernel_libraries())
      for (size_t i = 0; i < libraries->size(); ++i)
        if (libraries->Get(i)->section() >= numSections)
          return fail(status_, TERN_STATUS_DATA_LOSS, name_,
                      "kernel_libraries[%zu]: field section %u names no section", i,
                      libraries->Get(i)->section());
    return true;
  }

  bool hostCpu(const schema::Artifact &root) {
    const schema::Target *target = root.target();
    if (!target)
      return true;
    std::string_view triple = target->triple() ? target->triple()->string_view() : "";
    if (!hostRunsTriple(triple))
      return fail(status_, TERN_STATUS_UNAVAILABLE, name_,
                  "compiled for target %.*s, but this host is %s",
                  static_cast<int>(triple.size()), triple.data(), hostArchitecture());
    if (const auto *features = target->cpu_features())
      for (const flatbuffers::String *feature : *features) {
        HostFeature present = hostHasCpuFeature(feature->string_view());
        if (present != HostFeature::Present)
          return fail(status_, TERN_STATUS_UNAVAILABLE, name_,
                      "target needs CPU feature '%s', which this host %s", feature->c_str(),
                      present == HostFeature::Missing ? "lacks"
                                                      : "cannot be checked for (unknown feature)");
      }
    return true;
  }

private:
  const uint8_t *data_;
  size_t size_;
  const std::string &name_;
  tern_status_t *status_;
};

} // namespace

std::unique_ptr<Artifact> Artifact::openMemory(const void *data, size_t size, const char *name,
                                               tern_status_t *status,
                                               const ArtifactOpenOptions &options) {
  *status = nullptr;
  std::unique_ptr<Artifact> artifact(new (std::nothrow) Artifact());
  if (!artifact) {
    *status = tern_status_create(TERN_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return nullptr;
  }
  artifact->name_ = name ? name : "<memory>";
  artifact->data_ = static_cast<const uint8_t *>(data);
  artifact->size_ = size;
  Verifier verify(artifact->data_, size, artifact->name_, status);
  ArtifactFileHeader header;
  const schema::Artifact *root = nullptr;
  if (!verify.header(header) || !verify.flatbuffer(header, root) ||
      !verify.sections(header, *root) || !verify.references(*root) ||
      (options.checkHostCpu && !verify.hostCpu(*root)))
    return nullptr;
  artifact->root_ = root;
  return artifact;
}

std::unique_ptr<Artifact> Artifact::open(const char *path, tern_status_t *status,
                                         const ArtifactOpenOptions &options) {
  *status = nullptr;
  std::string name = path;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    fail(status, error == ENOENT ? TERN_STATUS_NOT_FOUND : TERN_STATUS_UNAVAILABLE, name,
         "cannot open: %s", std::strerror(error));
    return nullptr;
  }
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    fail(status, TERN_STATUS_INVALID_ARGUMENT, name, "not a regular file");
    return nullptr;
  }
  size_t size = static_cast<size_t>(info.st_size);
  if (size < sizeof(ArtifactFileHeader)) {
    ::close(fd);
    fail(status, TERN_STATUS_DATA_LOSS, name, "truncated: %zu bytes, the header alone needs %zu",
         size, sizeof(ArtifactFileHeader));
    return nullptr;
  }
  // Read-only and private: weights are used in place, never copied or written.
  void *map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd); // the mapping keeps the file alive
  if (map == MAP_FAILED) {
    fail(status, TERN_STATUS_RESOURCE_EXHAUSTED, name, "cannot map %zu bytes: %s", size,
         std::strerror(errno));
    return nullptr;
  }
  std::unique_ptr<Artifact> artifact = openMemory(map, size, path, status, options);
  if (!artifact) {
    munmap(map, size);
    return nullptr;
  }
  artifact->mapped_ = true;
  return artifact;
}

Artifact::~Artifact() {
  if (mapped_)
    munmap(const_cast<uint8_t *>(data_), size_);
}

uint32_t Artifact::formatVersion() const { return root_->format_version(); }

size_t Artifact::numSections() const { return root_->sections() ? root_->sections()->size() : 0; }

const schema::Section &Artifact::section(size_t index) const {
  return *root_->sections()->Get(static_cast<flatbuffers::uoffset_t>(index));
}

SectionBytes Artifact::sectionBytes(size_t index) const {
  const schema::Section &s = section(index);
  return {data_ + s.offset(), s.size()};
}

ptrdiff_t Artifact::findSection(std::string_view name) const {
  for (size_t i = 0; i < numSections(); ++i) {
    const flatbuffers::String *sectionName = section(i).name();
    if (sectionName && sectionName->string_view() == name)
      return static_cast<ptrdiff_t>(i);
  }
  return -1;
}

} // namespace tern
