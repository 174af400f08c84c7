// Shared helpers of the artifact tests: scratch directories, status checks, a small artifact.
#ifndef TERN_TESTS_ARTIFACT_ARTIFACTTESTUTIL_H
#define TERN_TESTS_ARTIFACT_ARTIFACTTESTUTIL_H

#include "compiler/artifact/ArtifactWriter.h"
#include "tern/artifact/Artifact.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::test {

// A directory removed with its contents when the test ends.
class ScratchDir {
public:
  ScratchDir() {
    if (llvm::sys::fs::createUniqueDirectory("tern-artifact-test", path_))
      ADD_FAILURE() << "cannot create a scratch directory";
  }
  ~ScratchDir() { llvm::sys::fs::remove_directories(path_); }
  std::string file(llvm::StringRef name) const {
    llvm::SmallString<128> p(path_);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }
  std::string path() const { return std::string(path_); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(path_, ec), end; it != end && !ec; it.increment(ec))
      names.push_back(std::string(llvm::sys::path::filename(it->path())));
    return names;
  }

private:
  llvm::SmallString<128> path_;
};

// Owns a status so a failing assertion cannot leak it.
struct Status {
  tern_status_t status = nullptr;
  ~Status() { tern_status_free(status); }
  tern_status_code_t code() const { return tern_status_code(status); }
  std::string message() const { return tern_status_message(status); }
};

inline std::vector<uint8_t> readFile(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return {};
  const auto *begin = reinterpret_cast<const uint8_t *>((*buffer)->getBufferStart());
  return std::vector<uint8_t>(begin, begin + (*buffer)->getBufferSize());
}

inline void writeFile(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec);
  ASSERT_FALSE(ec) << path;
  out.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
}

// A small artifact touching every table, with two sections of odd sizes so padding occurs.
struct SmallArtifact {
  std::vector<uint8_t> weights = std::vector<uint8_t>(100);
  std::vector<uint8_t> kernels = std::vector<uint8_t>(37);
  ArtifactContents contents;

  SmallArtifact() {
    for (size_t i = 0; i < weights.size(); ++i)
      weights[i] = static_cast<uint8_t>(i * 7 + 1);
    for (size_t i = 0; i < kernels.size(); ++i)
      kernels[i] = static_cast<uint8_t>(255 - i);
    contents.metadata.architecture = "llama";
    contents.metadata.family = "llama";
    contents.metadata.hparams = std::make_unique<schema::HyperparametersT>();
    contents.metadata.hparams->layers = 2;
    contents.metadata.hparams->rms_eps = 1e-5;
    contents.tokenizer.model = "llama";
    contents.tokenizer.tokens = {"<unk>", "<s>", "</s>", "a"};
    contents.tokenizer.scores = {0, 0, 0, -1.5f};
    contents.tokenizer.bos_id = 1;
    contents.tokenizer.add_bos = true;
    contents.target.triple = ""; // runs anywhere: the rejection tests must not depend on the host
    contents.memoryPlan.arena_bytes = 4096;
    auto entry = std::make_unique<schema::EntryPointT>();
    entry->name = "decode";
    auto dispatch = std::make_unique<schema::KernelDispatchT>();
    auto binding = std::make_unique<schema::BindingT>();
    binding->kind = schema::BindingKind::SectionSlice;
    binding->size = 100;
    dispatch->bindings.push_back(std::move(binding));
    entry->dispatches.push_back(std::move(dispatch));
    entry->logits_only_dispatches = 1;
    contents.entryPoints.push_back(std::move(entry));
    auto library = std::make_unique<schema::KernelLibraryT>();
    library->kind = schema::KernelLibraryKind::CpuElf;
    library->section = 1;
    library->kernels = {"tern_decode"};
    contents.kernelLibraries.push_back(std::move(library));

    ArtifactSection w;
    w.name = "w";
    w.kind = schema::SectionKind::Weights;
    w.size = weights.size();
    w.bytes = weights;
    schema::TensorInfoT info;
    info.name = "w";
    info.dtype = "u8";
    info.shape = {10, 10};
    w.tensor = info;
    contents.sections.push_back(std::move(w));
    ArtifactSection k;
    k.name = "kernels";
    k.kind = schema::SectionKind::KernelLibrary;
    k.size = kernels.size();
    k.produce = [this](llvm::raw_ostream &out) {
      out.write(reinterpret_cast<const char *>(kernels.data()), kernels.size());
      return llvm::Error::success();
    };
    contents.sections.push_back(std::move(k));
  }
};

} // namespace tern::test

#endif
