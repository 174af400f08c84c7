// A verified, memory-mapped `.tern` artifact: metadata, tokenizer and zero-copy sections.
#ifndef TERN_ARTIFACT_ARTIFACT_H
#define TERN_ARTIFACT_ARTIFACT_H

#include "tern/artifact/tern_artifact_generated.h"
#include "tern/tern.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tern {

struct ArtifactOpenOptions {
  // Refuse artifacts whose target needs CPU features this host lacks. Inspection tools that
  // never run kernels turn it off.
  bool checkHostCpu = true;
};

// Bytes of one section, pointing into the mapping; valid while the Artifact lives.
struct SectionBytes {
  const uint8_t *data = nullptr;
  uint64_t size = 0;
};

// Thread-compatible to open; once open, const accessors may be called from any thread.
class Artifact {
public:
  // Maps |path| read-only and verifies all of it (header, FlatBuffer, every section's bounds,
  // alignment and checksum, zero padding, host CPU features). On failure returns null and sets
  // |*status| to DATA_LOSS (corrupt or truncated), UNIMPLEMENTED (unknown format version),
  // UNAVAILABLE (host lacks a CPU feature) or NOT_FOUND, with a message naming the file and the
  // field or section at fault. On success |*status| is null.
  static std::unique_ptr<Artifact> open(const char *path, tern_status_t *status,
                                        const ArtifactOpenOptions &options = {});
  // Verifies |size| bytes at |data| the same way without taking ownership: they must outlive
  // the result. |name| stands for the file in messages.
  static std::unique_ptr<Artifact> openMemory(const void *data, size_t size, const char *name,
                                              tern_status_t *status,
                                              const ArtifactOpenOptions &options = {});
  ~Artifact();
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  const std::string &name() const { return name_; }
  uint32_t formatVersion() const;
  const schema::Artifact &root() const { return *root_; }
  // Null when the artifact has none.
  const schema::ModelMetadata *metadata() const { return root_->metadata(); }
  const schema::Tokenizer *tokenizer() const { return root_->tokenizer(); }
  const schema::Target *target() const { return root_->target(); }
  const schema::MemoryPlan *memoryPlan() const { return root_->memory_plan(); }

  size_t numSections() const;
  const schema::Section &section(size_t index) const;
  SectionBytes sectionBytes(size_t index) const;
  // Index of the section called |name|, or -1.
  ptrdiff_t findSection(std::string_view name) const;

private:
  Artifact() = default;

  std::string name_;
  const uint8_t *data_ = nullptr; // (size_) the whole file
  size_t size_ = 0;
  bool mapped_ = false;           // whether ~Artifact unmaps |data_|
  const schema::Artifact *root_ = nullptr;
};

} // namespace tern

#endif
