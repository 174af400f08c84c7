// The `.tern` writer: lays out sections, streams them with their checksums, then fills in the
// FlatBuffer and header in place, and renames the finished file over |path|.
#include "compiler/artifact/ArtifactWriter.h"

#include "tern/artifact/Checksum.h"
#include "tern/artifact/FileFormat.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"

#include <cstring>

namespace tern {
namespace {

// Forwards to the file while checksumming and counting, so a producer's bytes are verified
// against its declared size without buffering them.
class ChecksummingStream : public llvm::raw_ostream {
public:
  explicit ChecksummingStream(llvm::raw_ostream &out) : out_(out) { SetUnbuffered(); }
  uint64_t digest() const { return hash_.digest(); }
  uint64_t written() const { return written_; }

private:
  void write_impl(const char *ptr, size_t size) override {
    hash_.update(ptr, size);
    written_ += size;
    out_.write(ptr, size);
  }
  uint64_t current_pos() const override { return written_; }

  llvm::raw_ostream &out_;
  Xxh64 hash_;
  uint64_t written_ = 0;
};

// Builds the FlatBuffer with every scalar present (ForceDefaults) so offsets and checksums can be
// patched in place once known, without changing the buffer's size.
void buildFlatbuffer(const ArtifactContents &contents, flatbuffers::FlatBufferBuilder &fbb) {
  fbb.ForceDefaults(true);
  schema::ArtifactT root;
  root.format_version = kArtifactFormatVersion;
  root.producer = contents.producer;
  root.metadata = std::make_unique<schema::ModelMetadataT>(contents.metadata);
  root.tokenizer = std::make_unique<schema::TokenizerT>(contents.tokenizer);
  root.target = std::make_unique<schema::TargetT>(contents.target);
  root.memory_plan = std::make_unique<schema::MemoryPlanT>(contents.memoryPlan);
  for (const auto &entry : contents.entryPoints)
    root.entry_points.push_back(std::make_unique<schema::EntryPointT>(*entry));
  for (const auto &library : contents.kernelLibraries)
    root.kernel_libraries.push_back(std::make_unique<schema::KernelLibraryT>(*library));
  for (const ArtifactSection &section : contents.sections) {
    auto s = std::make_unique<schema::SectionT>();
    s->name = section.name;
    s->kind = section.kind;
    s->size = section.size;
    s->alignment = kArtifactSectionAlignment;
    if (section.tensor)
      s->tensor = std::make_unique<schema::TensorInfoT>(*section.tensor);
    root.sections.push_back(std::move(s));
  }
  fbb.Finish(schema::Artifact::Pack(fbb, &root), schema::ArtifactIdentifier());
}

llvm::Error writeZeros(llvm::raw_ostream &out, uint64_t count) {
  static const char zeros[4096] = {};
  for (; count > 0;) {
    uint64_t n = std::min<uint64_t>(count, sizeof(zeros));
    out.write(zeros, n);
    count -= n;
  }
  return llvm::Error::success();
}

llvm::Error writeBody(llvm::StringRef path, const ArtifactContents &contents,
                      llvm::raw_fd_ostream &out) {
  flatbuffers::FlatBufferBuilder fbb;
  buildFlatbuffer(contents, fbb);
  uint8_t *fb = fbb.GetBufferPointer();
  uint64_t fbSize = fbb.GetSize();
  schema::Artifact *root = schema::GetMutableArtifact(fb);

  // Header and FlatBuffer are placeholders until the sections' checksums are known.
  uint64_t cursor = sizeof(ArtifactFileHeader) + fbSize;
  if (llvm::Error error = writeZeros(out, cursor))
    return error;
  for (size_t i = 0; i < contents.sections.size(); ++i) {
    const ArtifactSection &section = contents.sections[i];
    uint64_t offset = llvm::alignTo(cursor, kArtifactSectionAlignment);
    if (llvm::Error error = writeZeros(out, offset - cursor))
      return error;
    ChecksummingStream stream(out);
    if (section.produce) {
      if (llvm::Error error = section.produce(stream))
        return llvm::createFileError(path + ": section '" + section.name + "'", std::move(error));
    } else {
      if (section.bytes.size() != section.size)
        return llvm::createStringError(
            "%s: section '%s' declares %llu bytes but holds %zu", path.str().c_str(),
            section.name.c_str(), static_cast<unsigned long long>(section.size),
            section.bytes.size());
      stream.write(reinterpret_cast<const char *>(section.bytes.data()), section.bytes.size());
    }
    if (stream.written() != section.size)
      return llvm::createStringError(
          "%s: section '%s' declares %llu bytes but its producer wrote %llu", path.str().c_str(),
          section.name.c_str(), static_cast<unsigned long long>(section.size),
          static_cast<unsigned long long>(stream.written()));
    schema::Section *s = root->mutable_sections()->GetMutableObject(i);
    if (!s->mutate_offset(offset) || !s->mutate_checksum(stream.digest()))
      return llvm::createStringError("%s: section '%s': offset/checksum fields missing",
                                     path.str().c_str(), section.name.c_str());
    cursor = offset + section.size;
  }

  ArtifactFileHeader header = {};
  std::memcpy(header.magic, kArtifactMagic, sizeof(kArtifactMagic));
  header.formatVersion = kArtifactFormatVersion;
  header.headerSize = sizeof(ArtifactFileHeader);
  header.flatbufferOffset = sizeof(ArtifactFileHeader);
  header.flatbufferSize = fbSize;
  header.flatbufferChecksum = xxh64(fb, fbSize);
  header.fileSize = cursor;
  header.headerChecksum = xxh64(&header, kArtifactHeaderChecksummedBytes);
  out.seek(0);
  out.write(reinterpret_cast<const char *>(&header), sizeof(header));
  out.write(reinterpret_cast<const char *>(fb), fbSize);
  out.flush();
  if (out.has_error())
    return llvm::createFileError(path, out.error());
  return llvm::Error::success();
}

} // namespace

llvm::Error writeArtifact(llvm::StringRef path, const ArtifactContents &contents) {
  llvm::Expected<llvm::sys::fs::TempFile> temp =
      llvm::sys::fs::TempFile::create(path + ".tmp-%%%%%%");
  if (!temp)
    return llvm::createFileError(path, temp.takeError());
  llvm::Error result = [&]() -> llvm::Error {
    llvm::raw_fd_ostream out(temp->FD, /*shouldClose=*/false);
    llvm::Error error = writeBody(path, contents, out);
    out.clear_error(); // reported through |error|; raw_fd_ostream aborts on unchecked errors
    return error;
  }();
  if (result)
    return llvm::joinErrors(std::move(result), temp->discard());
  if (llvm::Error error = temp->keep(path))
    return llvm::createFileError(path, std::move(error));
  return llvm::Error::success();
}

} // namespace tern
