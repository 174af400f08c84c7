// Writes a `.tern` artifact: header, FlatBuffer, then 64-byte aligned checksummed sections.
#ifndef TERN_COMPILER_ARTIFACT_ARTIFACTWRITER_H
#define TERN_COMPILER_ARTIFACT_ARTIFACTWRITER_H

#include "tern/artifact/tern_artifact_generated.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tern {

// One section's bytes: either |bytes| (kept alive by the caller until writeArtifact returns) or
// |produce|, which must write exactly |size| bytes; packing large weights streams them to disk
// without holding a second copy.
struct ArtifactSection {
  std::string name;
  schema::SectionKind kind = schema::SectionKind::Other;
  uint64_t size = 0; // must equal bytes.size() when |produce| is empty
  llvm::ArrayRef<uint8_t> bytes;
  std::function<llvm::Error(llvm::raw_ostream &)> produce;
  std::optional<schema::TensorInfoT> tensor; // for Weights sections
};

// Everything an artifact holds. The writer fills in format_version and every section's
// offset, size, alignment and checksum; the rest is written as given.
struct ArtifactContents {
  std::string producer = "ternc";
  schema::ModelMetadataT metadata;
  schema::TokenizerT tokenizer;
  schema::TargetT target;
  schema::MemoryPlanT memoryPlan;
  std::vector<std::unique_ptr<schema::EntryPointT>> entryPoints;
  std::vector<std::unique_ptr<schema::KernelLibraryT>> kernelLibraries;
  std::vector<ArtifactSection> sections; // written in this order
};

// Writes |contents| to |path| through a temporary file in the same directory renamed into place,
// so |path| is either the complete artifact or untouched. Errors name |path| and the section.
llvm::Error writeArtifact(llvm::StringRef path, const ArtifactContents &contents);

} // namespace tern

#endif
