// Choosing the device without a GPU: which device each artifact and option runs on, the errors
// for a device the artifact was not compiled for or a driver that does not load, GPU grids, and
// a PTX artifact's reference twins running on the CPU.
#include "CApiHandles.h"
#include "TestArtifact.h"

#include "tern/tern.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace tern::test {
namespace {

// Points the loader at a driver library that does not exist, whatever this host has, and puts
// the variable back afterwards.
class Device : public ::testing::Test {
protected:
  void SetUp() override {
    const char *old = std::getenv("TERN_CUDA_DRIVER");
    hadDriver_ = old != nullptr;
    if (old)
      oldDriver_ = old;
    setenv("TERN_CUDA_DRIVER", kMissingDriver, 1);
  }
  void TearDown() override {
    if (hadDriver_)
      setenv("TERN_CUDA_DRIVER", oldDriver_.c_str(), 1);
    else
      unsetenv("TERN_CUDA_DRIVER");
  }
  static constexpr const char *kMissingDriver = "/nonexistent/libcuda.so.1";

private:
  bool hadDriver_ = false;
  std::string oldDriver_;
};

TinyModel cpuTiny() {
  TinyModel tiny;
  tiny.library = readBytes(TERN_TEST_TINY_KERNELS);
  return tiny;
}

// The tiny model compiled "for a GPU": the library's text only has to name the kernels here,
// since no driver ever reads it in these tests.
TinyModel ptxTiny() {
  TinyModel tiny;
  tiny.ptx = true;
  const std::string text = ".version 7.0\n.target sm_80\n.address_size 64\n"
                           ".visible .entry tiny_embedding(\n.visible .entry tiny_rms_norm(\n"
                           ".visible .entry tiny_matmul(\n";
  tiny.library.assign(text.begin(), text.end());
  return tiny;
}

tern_status_t open(const std::vector<uint8_t> &bytes, const TempFile &file,
                   tern_kernels_t kernels, tern_device_t device, tern_model_t **out,
                   int32_t ordinal = 0) {
  file.write(bytes);
  tern_model_options_t options;
  tern_model_options_init(&options);
  options.num_threads = 2;
  options.kernels = kernels;
  options.device = device;
  options.device_ordinal = ordinal;
  return tern_model_open(file.path().c_str(), &options, out);
}

TEST_F(Device, OptionsDefaultToAutoAndOrdinalZero) {
  tern_model_options_t options;
  options.device = TERN_DEVICE_CUDA;
  options.device_ordinal = 3;
  tern_model_options_init(&options);
  EXPECT_EQ(options.device, TERN_DEVICE_AUTO);
  EXPECT_EQ(options.device_ordinal, 0);
  EXPECT_EQ(options.kernels, TERN_KERNELS_GENERATED);
}

TEST_F(Device, CudaWithoutTheDriverIsUnavailable) {
  for (tern_device_t device : {TERN_DEVICE_CUDA, TERN_DEVICE_AUTO}) {
    SCOPED_TRACE(device == TERN_DEVICE_CUDA ? "cuda" : "auto");
    TempFile file;
    Model m;
    Status open{tern::test::open(ptxTiny().bytes(), file, TERN_KERNELS_GENERATED, device,
                                 &m.model)};
    EXPECT_EQ(open.code(), TERN_STATUS_UNAVAILABLE) << open.message();
    EXPECT_TRUE(open.contains(file.path() +
                              ": the cuda device needs the NVIDIA driver (libcuda.so.1): "))
        << open.message();
    EXPECT_TRUE(open.contains(kMissingDriver)) << open.message(); // dlerror names the path
    EXPECT_EQ(m.model, nullptr);
  }
}

TEST_F(Device, CpuArtifactOnCudaSaysHowToCompileForTheGpu) {
  for (tern_kernels_t kernels : {TERN_KERNELS_GENERATED, TERN_KERNELS_REFERENCE}) {
    TempFile file;
    Model m;
    Status open{tern::test::open(cpuTiny().bytes(), file, kernels, TERN_DEVICE_CUDA, &m.model)};
    EXPECT_EQ(open.code(), TERN_STATUS_INVALID_ARGUMENT) << open.message();
    EXPECT_TRUE(open.contains(file.path() + ": compiled for the CPU (target generic), so it has "
                                            "no kernels for the cuda device"))
        << open.message();
    EXPECT_TRUE(open.contains("ternc compile --target=sm_90")) << open.message();
    EXPECT_EQ(m.model, nullptr);
  }
}

TEST_F(Device, PtxArtifactOnTheCpuNeedsCudaOrTheReferenceKernels) {
  TempFile file;
  Model m;
  Status open{tern::test::open(ptxTiny().bytes(), file, TERN_KERNELS_GENERATED, TERN_DEVICE_CPU,
                               &m.model)};
  EXPECT_EQ(open.code(), TERN_STATUS_INVALID_ARGUMENT) << open.message();
  EXPECT_TRUE(open.contains("compiled for the GPU (target sm_80, PTX kernels), which the cpu "
                            "device cannot run"))
      << open.message();
  EXPECT_TRUE(open.contains("--device cuda")) << open.message();
  EXPECT_TRUE(open.contains("--kernels reference")) << open.message();
  EXPECT_TRUE(open.contains("ternc compile --target=native")) << open.message();
}

TEST_F(Device, PtxArtifactRunsTheReferenceTwinsOnTheCpu) {
  // No driver is needed: the descriptors and bindings are the same as a CPU artifact's, and the
  // NVPTX triple does not stop the host CPU check.
  for (tern_device_t device : {TERN_DEVICE_AUTO, TERN_DEVICE_CPU}) {
    SCOPED_TRACE(device == TERN_DEVICE_AUTO ? "auto" : "cpu");
    TempFile file;
    Model m;
    Status open{tern::test::open(ptxTiny().bytes(), file, TERN_KERNELS_REFERENCE, device,
                                 &m.model)};
    ASSERT_EQ(open.status, nullptr) << open.message();
    tern_model_info_t info;
    tern_model_info(m.model, &info);
    EXPECT_STREQ(info.device, "cpu");
    EXPECT_EQ(info.device_memory_bytes, 0u);
    EXPECT_EQ(info.num_threads, 2);
    tern_session_t *session = nullptr;
    Status create{tern_session_create(m.model, nullptr, &session)};
    ASSERT_EQ(create.status, nullptr) << create.message();
    const std::vector<int32_t> prompt = {3, 15, 0, 7, 7, 12, 1}; // two prefill chunks
    std::vector<float> all(prompt.size() * TinyModel::kVocab);
    Status eval{tern_session_eval_all_logits(session, prompt.data(), prompt.size(), all.data())};
    ASSERT_EQ(eval.status, nullptr) << eval.message();
    for (size_t t = 0; t < prompt.size(); ++t) {
      const std::vector<double> expected = TinyModel::expectedLogits(prompt[t]);
      for (int64_t o = 0; o < TinyModel::kVocab; ++o)
        EXPECT_NEAR(all[t * TinyModel::kVocab + o], expected[o], 1e-5) << t << " " << o;
    }
    tern_session_release(session);
  }
}

TEST_F(Device, ReferenceKernelsDoNotRunOnCuda) {
  TempFile file;
  Model m;
  Status open{tern::test::open(ptxTiny().bytes(), file, TERN_KERNELS_REFERENCE, TERN_DEVICE_CUDA,
                               &m.model)};
  EXPECT_EQ(open.code(), TERN_STATUS_INVALID_ARGUMENT) << open.message();
  EXPECT_TRUE(open.contains("the reference kernels are the runtime's C++ twins and run on the "
                            "CPU only"))
      << open.message();
}

TEST_F(Device, CpuArtifactReportsTheCpuDevice) {
  for (tern_device_t device : {TERN_DEVICE_AUTO, TERN_DEVICE_CPU}) {
    TempFile file;
    Model m;
    Status open{tern::test::open(cpuTiny().bytes(), file, TERN_KERNELS_GENERATED, device,
                                 &m.model, /*ordinal=*/2)}; // the ordinal only picks a GPU
    ASSERT_EQ(open.status, nullptr) << open.message();
    tern_model_info_t info;
    tern_model_info(m.model, &info);
    EXPECT_STREQ(info.device, "cpu");
    EXPECT_EQ(info.device_memory_bytes, 0u);
  }
}

TEST_F(Device, RejectsOptionsOutOfRange) {
  TempFile file;
  Model m;
  Status badDevice{tern::test::open(cpuTiny().bytes(), file, TERN_KERNELS_GENERATED,
                                    tern_device_t(7), &m.model)};
  EXPECT_EQ(badDevice.code(), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_TRUE(badDevice.contains("options.device is 7")) << badDevice.message();
  Status badOrdinal{tern::test::open(cpuTiny().bytes(), file, TERN_KERNELS_GENERATED,
                                     TERN_DEVICE_AUTO, &m.model, -1)};
  EXPECT_EQ(badOrdinal.code(), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_TRUE(badOrdinal.contains("options.device_ordinal is -1")) << badOrdinal.message();
}

TEST_F(Device, GpuDispatchesNeedSixNumbersWithinTheDeviceLimits) {
  const std::pair<std::vector<uint32_t>, const char *> cases[] = {
      {{1, 1, 1}, "grid is [1, 1, 1]; a GPU dispatch needs 6 numbers"},
      {{1, 1, 1, 0, 1, 1}, "every number must be at least 1"},
      {{1, 1, 1, 2048, 1, 1}, "a block is at most 1024 threads"},
      {{1, 1, 1, 64, 32, 1}, "a block is at most 1024 threads"},
      {{1, 70000, 1, 32, 1, 1}, "a grid is at most"},
  };
  for (const auto &[grid, message] : cases) {
    TinyModel tiny = ptxTiny();
    tiny.gpuGrid = grid;
    TempFile file;
    Model m;
    // Checked with the reference kernels too: the grid is part of a valid GPU artifact.
    Status open{tern::test::open(tiny.bytes(), file, TERN_KERNELS_REFERENCE, TERN_DEVICE_AUTO,
                                 &m.model)};
    EXPECT_EQ(open.code(), TERN_STATUS_DATA_LOSS) << open.message();
    EXPECT_TRUE(open.contains("entry point 'decode', dispatch 0 (kernel 'tiny_embedding')"))
        << open.message();
    EXPECT_TRUE(open.contains(message)) << open.message();
  }
}

TEST_F(Device, CpuArtifactsStillNeedTheirTargetOnThisHost) {
  // The loader leaves the host check to the device choice; a CPU artifact still gets it.
  schema::ArtifactT root = cpuTiny().root();
  root.target->triple = "riscv64-unknown-linux-gnu";
  TempFile file;
  Model m;
  Status open{tern::test::open(buildArtifactBytes(std::move(root), cpuTiny().sections()), file,
                               TERN_KERNELS_REFERENCE, TERN_DEVICE_AUTO, &m.model)};
  EXPECT_EQ(open.code(), TERN_STATUS_UNAVAILABLE) << open.message();
  EXPECT_TRUE(open.contains("compiled for target riscv64-unknown-linux-gnu, but this host is"))
      << open.message();

  schema::ArtifactT featured = cpuTiny().root();
  featured.target->cpu_features = {"no-such-feature"};
  TempFile file2;
  Status open2{tern::test::open(buildArtifactBytes(std::move(featured), cpuTiny().sections()),
                                file2, TERN_KERNELS_GENERATED, TERN_DEVICE_CPU, &m.model)};
  EXPECT_EQ(open2.code(), TERN_STATUS_UNAVAILABLE) << open2.message();
  EXPECT_TRUE(open2.contains("target needs CPU feature 'no-such-feature'")) << open2.message();

  // The reference twins need none of the target's features (only its architecture).
  schema::ArtifactT twins = cpuTiny().root();
  twins.target->cpu_features = {"no-such-feature"};
  TempFile file3;
  Model m3;
  Status open3{tern::test::open(buildArtifactBytes(std::move(twins), cpuTiny().sections()), file3,
                                TERN_KERNELS_REFERENCE, TERN_DEVICE_CPU, &m3.model)};
  EXPECT_EQ(open3.code(), TERN_STATUS_OK) << open3.message();
}

TEST_F(Device, MixedCpuAndGpuLibrariesAreRejected) {
  schema::ArtifactT root = ptxTiny().root();
  auto cpu = std::make_unique<schema::KernelLibraryT>(*root.kernel_libraries[0]);
  cpu->kind = schema::KernelLibraryKind::CpuElf;
  root.kernel_libraries.push_back(std::move(cpu));
  TempFile file;
  Model m;
  Status open{tern::test::open(buildArtifactBytes(std::move(root), ptxTiny().sections()), file,
                               TERN_KERNELS_REFERENCE, TERN_DEVICE_AUTO, &m.model)};
  EXPECT_EQ(open.code(), TERN_STATUS_DATA_LOSS) << open.message();
  EXPECT_TRUE(open.contains("kernel_libraries mix CPU and GPU code")) << open.message();
}

} // namespace
} // namespace tern::test
