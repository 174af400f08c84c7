// The cuda device's host side against a fake driver (FakeCudaDriver.c) that runs the tiny
// model's C kernels: logits, chunking and last-row bindings, decode graphs, profiling, memory
// and every error the loader reports, without a GPU.
#include "../executor/CApiHandles.h"
#include "../executor/TestArtifact.h"

#include "tern/tern.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <dlfcn.h>
#include <string>
#include <vector>

namespace tern::test {
namespace {

// FakeCudaDriver.c's counters.
struct FakeCounters {
  uint64_t launches, directLaunches, graphLaunches, graphsInstantiated;
  uint64_t deviceAllocations, hostAllocations;
  int64_t liveAllocations, liveContexts, liveModules, liveStreams, liveEvents, liveGraphs;
};

FakeCounters fakeCounters() {
  // The runtime loaded this library by the same path: dlopen hands back the same copy.
  void *library = dlopen(TERN_TEST_FAKE_CUDA, RTLD_NOW | RTLD_LOCAL);
  FakeCounters counters{};
  if (!library)
    return counters;
  auto read = reinterpret_cast<void (*)(FakeCounters *)>(dlsym(library, "fake_cuda_counters"));
  if (read)
    read(&counters);
  dlclose(library);
  return counters;
}

// The kernels the fake ran since the last call, with the call record each read.
struct LoggedLaunch {
  const char *kernel;
  int64_t rows, pos;
};

std::vector<std::string> takeLaunches() {
  void *library = dlopen(TERN_TEST_FAKE_CUDA, RTLD_NOW | RTLD_LOCAL);
  std::vector<std::string> launches;
  if (!library)
    return launches;
  auto take = reinterpret_cast<size_t (*)(LoggedLaunch *, size_t)>(
      dlsym(library, "fake_cuda_take_launches"));
  LoggedLaunch log[256];
  const size_t count = take ? take(log, 256) : 0;
  for (size_t i = 0; i < count; ++i)
    launches.push_back(std::string(log[i].kernel) + " {" + std::to_string(log[i].rows) + ", " +
                       std::to_string(log[i].pos) + "}");
  dlclose(library);
  return launches;
}

// Sets environment variables for a test and restores them after it.
class Environment {
public:
  void set(const char *name, const char *value) {
    const char *old = std::getenv(name);
    saved_.push_back({name, old ? old : "", old != nullptr});
    setenv(name, value, 1);
  }
  ~Environment() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it)
      if (it->had)
        setenv(it->name.c_str(), it->value.c_str(), 1);
      else
        unsetenv(it->name.c_str());
  }

private:
  struct Saved {
    std::string name, value;
    bool had;
  };
  std::vector<Saved> saved_;
};

class CudaDevice : public ::testing::Test {
protected:
  void SetUp() override {
    env.set("TERN_CUDA_DRIVER", TERN_TEST_FAKE_CUDA);
    before = fakeCounters();
  }
  void TearDown() override {
    // Whatever a test opened it released: nothing may stay behind on the device.
    const FakeCounters after = fakeCounters();
    EXPECT_EQ(after.liveAllocations, 0);
    EXPECT_EQ(after.liveContexts, 0);
    EXPECT_EQ(after.liveModules, 0);
    EXPECT_EQ(after.liveStreams, 0);
    EXPECT_EQ(after.liveEvents, 0);
    EXPECT_EQ(after.liveGraphs, 0);
  }

  Environment env;
  FakeCounters before{};
};

TinyModel ptxTiny() {
  TinyModel tiny;
  tiny.ptx = true;
  tiny.library = readBytes(TERN_TEST_TINY_PTX);
  return tiny;
}

tern_status_t openTiny(const TinyModel &tiny, const TempFile &file, tern_model_t **out,
                       tern_device_t device = TERN_DEVICE_AUTO, int32_t ordinal = 0) {
  file.write(tiny.bytes());
  tern_model_options_t options;
  tern_model_options_init(&options);
  options.device = device;
  options.device_ordinal = ordinal;
  return tern_model_open(file.path().c_str(), &options, out);
}

const std::vector<int32_t> kPrompt = {3, 15, 0, 7, 7, 12, 1};

// Logits of each of |tokens| evaluated one at a time on a new session of |model|.
std::vector<float> decodeOneByOne(tern_model_t *model, const std::vector<int32_t> &tokens) {
  Session s;
  Status create{tern_session_create(model, nullptr, &s.session)};
  EXPECT_EQ(create.status, nullptr) << create.message();
  std::vector<float> all;
  for (int32_t token : tokens) {
    if (!s.session)
      break;
    Status eval{tern_session_eval(s.session, &token, 1)};
    EXPECT_EQ(eval.status, nullptr) << eval.message();
    const float *logits = tern_session_logits(s.session);
    if (logits)
      all.insert(all.end(), logits, logits + TinyModel::kVocab);
  }
  return all;
}

// The same tokens one at a time through the CPU generated kernels: the same C code runs.
std::vector<float> cpuOneByOne(const std::vector<int32_t> &tokens, bool withKVWrite = false) {
  TinyModel tiny;
  tiny.library = readBytes(TERN_TEST_TINY_KERNELS);
  tiny.withKVWrite = withKVWrite;
  TempFile file;
  Model m;
  Status open{openTiny(tiny, file, &m.model, TERN_DEVICE_CPU)};
  EXPECT_EQ(open.status, nullptr) << open.message();
  return m.model ? decodeOneByOne(m.model, tokens) : std::vector<float>{};
}

TEST_F(CudaDevice, DescribesTheDeviceAndItsMemory) {
  TempFile file;
  Model m;
  Status open{openTiny(ptxTiny(), file, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  tern_model_info_t info;
  tern_model_info(m.model, &info);
  EXPECT_STREQ(info.device, "cuda:0 Fake CUDA Device");
  EXPECT_EQ(info.num_threads, 1);
  // The three weight sections (512, 32 and 512 bytes) at 256-byte offsets, then a full-context
  // session: arena 512, two 256-byte caches, 4 tokens and 2 call records, each 256-aligned.
  EXPECT_EQ(info.device_memory_bytes, (512u + 256 + 512) + (512u + 256 + 256 + 256 + 256));
  EXPECT_EQ(fakeCounters().deviceAllocations, before.deviceAllocations + 1); // the weights
}

TEST_F(CudaDevice, LogitsMatchTheHandComputedOnesAndTheCpu) {
  TinyModel tiny = ptxTiny();
  tiny.withKVWrite = true;
  TempFile file;
  Model m;
  Status open{openTiny(tiny, file, &m.model, TERN_DEVICE_CUDA)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  const std::vector<float> oneByOne = decodeOneByOne(m.model, kPrompt);
  ASSERT_EQ(oneByOne.size(), kPrompt.size() * TinyModel::kVocab);
  for (size_t t = 0; t < kPrompt.size(); ++t) {
    const std::vector<double> expected = TinyModel::expectedLogits(kPrompt[t]);
    for (int64_t o = 0; o < TinyModel::kVocab; ++o)
      EXPECT_NEAR(oneByOne[t * TinyModel::kVocab + o], expected[o], 1e-5) << t << " " << o;
  }
  EXPECT_EQ(oneByOne, cpuOneByOne(kPrompt, true));

  // 7 tokens with max_rows 4: two prefill chunks, whose last-row dispatches see rows 3 and 2.
  Session s;
  Status create{tern_session_create(m.model, nullptr, &s.session)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  EXPECT_EQ(tern_session_logits(s.session), nullptr);
  takeLaunches();
  Status eval{tern_session_eval(s.session, kPrompt.data(), kPrompt.size())};
  ASSERT_EQ(eval.status, nullptr) << eval.message();
  // Each kernel reads the call's {rows, pos}; last-row dispatches {1, pos + rows - 1}.
  EXPECT_EQ(takeLaunches(),
            (std::vector<std::string>{
                "tiny_embedding {4, 0}", "tiny_kv_cache_write {4, 0}", "tiny_rms_norm {1, 3}",
                "tiny_matmul {1, 3}", "tiny_embedding {3, 4}", "tiny_kv_cache_write {3, 4}",
                "tiny_rms_norm {1, 6}", "tiny_matmul {1, 6}"}));
  EXPECT_EQ(tern_session_position(s.session), int64_t(kPrompt.size()));
  const float *last = tern_session_logits(s.session);
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(std::vector<float>(last, last + TinyModel::kVocab),
            std::vector<float>(oneByOne.end() - TinyModel::kVocab, oneByOne.end()));

  tern_session_reset(s.session);
  std::vector<float> all(kPrompt.size() * TinyModel::kVocab, -1.0f);
  Status allEval{
      tern_session_eval_all_logits(s.session, kPrompt.data(), kPrompt.size(), all.data())};
  ASSERT_EQ(allEval.status, nullptr) << allEval.message();
  EXPECT_EQ(all, oneByOne);
  last = tern_session_logits(s.session);
  EXPECT_EQ(std::vector<float>(last, last + TinyModel::kVocab),
            std::vector<float>(oneByOne.end() - TinyModel::kVocab, oneByOne.end()));
}

TEST_F(CudaDevice, DecodeReplaysOneGraphPerStepAndAllocatesNothing) {
  std::vector<float> withGraphs, withoutGraphs;
  for (bool graphs : {true, false}) {
    SCOPED_TRACE(graphs ? "graphs" : "TERN_CUDA_GRAPHS=0");
    Environment local;
    if (!graphs)
      local.set("TERN_CUDA_GRAPHS", "0");
    TempFile file;
    Model m;
    Status open{openTiny(ptxTiny(), file, &m.model)};
    ASSERT_EQ(open.status, nullptr) << open.message();
    const FakeCounters atOpen = fakeCounters();
    Session s;
    Status create{tern_session_create(m.model, nullptr, &s.session)};
    ASSERT_EQ(create.status, nullptr) << create.message();
    const FakeCounters created = fakeCounters();
    // The decode graph (every dispatch) is made with the session; 'prefill' exists, so no
    // decode call ever skips the logits and no second graph is needed.
    EXPECT_EQ(created.graphsInstantiated - atOpen.graphsInstantiated, graphs ? 1u : 0u);
    EXPECT_EQ(created.launches, atOpen.launches); // capturing runs nothing

    std::vector<float> &logits = graphs ? withGraphs : withoutGraphs;
    for (int32_t token : kPrompt) {
      Status step{tern_session_eval(s.session, &token, 1)};
      ASSERT_EQ(step.status, nullptr) << step.message();
      const float *out = tern_session_logits(s.session);
      logits.insert(logits.end(), out, out + TinyModel::kVocab);
    }
    const FakeCounters decoded = fakeCounters();
    const uint64_t steps = kPrompt.size();
    EXPECT_EQ(decoded.graphLaunches - created.graphLaunches, graphs ? steps : 0u);
    EXPECT_EQ(decoded.directLaunches - created.directLaunches, graphs ? 0u : 3 * steps);
    EXPECT_EQ(decoded.launches - created.launches, 3 * steps);
    EXPECT_EQ(decoded.deviceAllocations, created.deviceAllocations);
    EXPECT_EQ(decoded.hostAllocations, created.hostAllocations);
  }
  EXPECT_EQ(withGraphs, withoutGraphs);
  EXPECT_EQ(withGraphs, cpuOneByOne(kPrompt));
}

TEST_F(CudaDevice, ModelWithoutPrefillDecodesAPromptThroughTheBodyGraph) {
  schema::ArtifactT root = ptxTiny().root();
  // Keep 'decode' alone, with its head (rms_norm, matmul) marked logits-only.
  root.entry_points.resize(1);
  root.entry_points[0]->logits_only_dispatches = 2;
  TempFile file;
  file.write(buildArtifactBytes(std::move(root), ptxTiny().sections()));
  tern_model_options_t options;
  tern_model_options_init(&options);
  Model m;
  Status open{tern_model_open(file.path().c_str(), &options, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  const FakeCounters atOpen = fakeCounters();
  Session s;
  Status create{tern_session_create(m.model, nullptr, &s.session)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  EXPECT_EQ(fakeCounters().graphsInstantiated - atOpen.graphsInstantiated, 2u);
  const FakeCounters created = fakeCounters();
  Status eval{tern_session_eval(s.session, kPrompt.data(), kPrompt.size())};
  ASSERT_EQ(eval.status, nullptr) << eval.message();
  const FakeCounters after = fakeCounters();
  // Six tokens run the body (embedding), the last every dispatch.
  EXPECT_EQ(after.graphLaunches - created.graphLaunches, kPrompt.size());
  EXPECT_EQ(after.launches - created.launches, (kPrompt.size() - 1) + 3);
  const std::vector<double> expected = TinyModel::expectedLogits(kPrompt.back());
  for (int64_t o = 0; o < TinyModel::kVocab; ++o)
    EXPECT_NEAR(tern_session_logits(s.session)[o], expected[o], 1e-5) << o;
}

TEST_F(CudaDevice, ProfileTimesEachKernelWithoutTheGraph) {
  TinyModel tiny = ptxTiny();
  tiny.withKVWrite = true;
  tiny.logitsOnlyDispatches = 2;
  TempFile file;
  Model m;
  Status open{openTiny(tiny, file, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  Session s;
  Status create{tern_session_create(m.model, nullptr, &s.session)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  const FakeCounters created = fakeCounters();
  tern_session_profile_enable(s.session, 1);
  // Two prefill chunks (the first skips the head), then three decode steps.
  Status prefill{tern_session_eval(s.session, kPrompt.data(), kPrompt.size())};
  ASSERT_EQ(prefill.status, nullptr) << prefill.message();
  tern_session_reset(s.session);
  for (int i = 0; i < 3; ++i) {
    Status step{tern_session_eval(s.session, &kPrompt[i], 1)};
    ASSERT_EQ(step.status, nullptr) << step.message();
  }
  EXPECT_EQ(fakeCounters().graphLaunches, created.graphLaunches);

  const struct {
    const char *entry, *symbol, *family;
    uint64_t runs, calls, weightBytes;
  } expected[] = {
      {"decode", "tiny_embedding", "embedding", 3, 3, 512},
      {"decode", "tiny_kv_cache_write", "kv_cache_write", 3, 3, 0},
      {"decode", "tiny_rms_norm", "rms_norm", 3, 3, 32},
      {"decode", "tiny_matmul", "matmul", 3, 3, 512},
      {"prefill", "tiny_embedding", "embedding", 2, 2, 512},
      {"prefill", "tiny_kv_cache_write", "kv_cache_write", 2, 2, 0},
      {"prefill", "tiny_rms_norm", "rms_norm", 2, 1, 32},
      {"prefill", "tiny_matmul", "matmul", 2, 1, 512},
  };
  ASSERT_EQ(tern_session_profile_count(s.session), std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) {
    tern_profile_record_t r;
    Status read{tern_session_profile_record(s.session, i, &r, sizeof(r))};
    ASSERT_EQ(read.status, nullptr) << read.message();
    SCOPED_TRACE(std::string(expected[i].entry) + " " + expected[i].symbol);
    EXPECT_STREQ(r.entry_point, expected[i].entry);
    EXPECT_STREQ(r.symbol, expected[i].symbol);
    EXPECT_STREQ(r.family, expected[i].family);
    EXPECT_EQ(r.entry_runs, expected[i].runs);
    EXPECT_EQ(r.calls, expected[i].calls);
    EXPECT_GE(r.seconds, 0.0);
    EXPECT_EQ(r.weight_bytes_per_call, expected[i].weightBytes);
  }
  tern_session_profile_enable(s.session, 0);
  Status step{tern_session_eval(s.session, &kPrompt[3], 1)};
  ASSERT_EQ(step.status, nullptr) << step.message();
  EXPECT_EQ(fakeCounters().graphLaunches, created.graphLaunches + 1); // graphs again
}

TEST_F(CudaDevice, ShortSessionStopsAtItsContext) {
  TinyModel tiny = ptxTiny();
  tiny.withKVWrite = true;
  TempFile file;
  Model m;
  Status open{openTiny(tiny, file, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  tern_session_options_t options;
  tern_session_options_init(&options);
  options.context_length = 5;
  Session s;
  Status create{tern_session_create(m.model, &options, &s.session)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  tern_session_info_t info;
  tern_session_info(s.session, &info);
  EXPECT_EQ(info.kv_cache_bytes, 2u * 5 * TinyModel::kWidth * 4);
  Status prefill{tern_session_eval(s.session, kPrompt.data(), 4)};
  ASSERT_EQ(prefill.status, nullptr) << prefill.message();
  Status step{tern_session_eval(s.session, &kPrompt[4], 1)};
  ASSERT_EQ(step.status, nullptr) << step.message();
  Status past{tern_session_eval(s.session, &kPrompt[5], 1)};
  EXPECT_EQ(past.code(), TERN_STATUS_OUT_OF_RANGE) << past.message();
  EXPECT_EQ(tern_session_position(s.session), 5);
}

TEST_F(CudaDevice, ALaunchFailureLeavesTheSessionAsItWas) {
  env.set("TERN_CUDA_GRAPHS", "0");
  TempFile file;
  Model m;
  Status open{openTiny(ptxTiny(), file, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  Session s;
  Status create{tern_session_create(m.model, nullptr, &s.session)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  Status first{tern_session_eval(s.session, kPrompt.data(), 3)};
  ASSERT_EQ(first.status, nullptr) << first.message();
  const std::vector<float> before(tern_session_logits(s.session),
                                  tern_session_logits(s.session) + TinyModel::kVocab);
  {
    Environment failing;
    failing.set("FAKE_CUDA_FAIL", "cuLaunchKernel");
    Status eval{tern_session_eval(s.session, kPrompt.data(), 2)};
    EXPECT_EQ(eval.code(), TERN_STATUS_INTERNAL) << eval.message();
    EXPECT_TRUE(eval.contains(file.path() + ": cuda:0 Fake CUDA Device: entry point 'prefill', "
                                            "dispatch 0 (kernel 'tiny_embedding', grid 1x1x1, "
                                            "block 32x1x1): cuLaunchKernel failed: "
                                            "CUDA_ERROR_LAUNCH_FAILED (unspecified launch "
                                            "failure)"))
        << eval.message();
  }
  EXPECT_EQ(tern_session_position(s.session), 3);
  EXPECT_EQ(std::vector<float>(tern_session_logits(s.session),
                               tern_session_logits(s.session) + TinyModel::kVocab),
            before);
  Status again{tern_session_eval(s.session, kPrompt.data() + 3, 1)};
  ASSERT_EQ(again.status, nullptr) << again.message();
  EXPECT_EQ(tern_session_position(s.session), 4);
}

TEST_F(CudaDevice, AFailedCaptureNamesItsSwitch) {
  TempFile file;
  Model m;
  Status open{openTiny(ptxTiny(), file, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  env.set("FAKE_CUDA_FAIL", "cuLaunchKernel");
  Session s;
  Status create{tern_session_create(m.model, nullptr, &s.session)};
  EXPECT_EQ(create.code(), TERN_STATUS_INTERNAL) << create.message();
  EXPECT_TRUE(create.contains("cuLaunchKernel failed")) << create.message();
  EXPECT_EQ(s.session, nullptr);
}

TEST_F(CudaDevice, ReportsWhatStopsAModelFromOpening) {
  struct Case {
    const char *variable, *value; // an environment knob of the fake driver, or null
    tern_status_code_t code;
    std::vector<std::string> messages;
  };
  const Case cases[] = {
      {"FAKE_CUDA_FAIL", "cuInit", TERN_STATUS_UNAVAILABLE,
       {"the cuda device needs the NVIDIA driver (libcuda.so.1): ", "cuInit failed: "
                                                                    "CUDA_ERROR_NO_DEVICE"}},
      {"FAKE_CUDA_FAIL", "cuModuleLoadDataEx", TERN_STATUS_DATA_LOSS,
       {"cuda:0 Fake CUDA Device: loading kernel_libraries[0] (PTX, section 3",
        "cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed); JIT "
        "log: ptxas fatal   : fake JIT failure in this image"}},
      {"FAKE_CUDA_FAIL", "cuMemAlloc_v2", TERN_STATUS_RESOURCE_EXHAUSTED,
       {"allocating 1 MB for the weights (1074 MB of 2148 MB free): cuMemAlloc_v2 failed: "
        "CUDA_ERROR_OUT_OF_MEMORY (out of memory)"}},
      {"FAKE_CUDA_COMPUTE_CAPABILITY", "75", TERN_STATUS_UNAVAILABLE,
       {"compiled for sm_80 (compute capability 8.0 or newer), but this GPU has compute "
        "capability 7.5; compile the model for it (ternc compile --target=sm_75)"}},
      {"FAKE_CUDA_MAX_THREADS", "16", TERN_STATUS_UNAVAILABLE,
       {"entry point 'decode', dispatch 0 (kernel 'tiny_embedding') launches blocks of 32 "
        "threads, but this GPU runs it with at most 16 per block"}},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string(c.variable) + "=" + c.value);
    Environment local;
    local.set(c.variable, c.value);
    TempFile file;
    Model m;
    Status open{openTiny(ptxTiny(), file, &m.model)};
    EXPECT_EQ(open.code(), c.code) << open.message();
    EXPECT_TRUE(open.contains(file.path() + ": ")) << open.message();
    for (const std::string &message : c.messages)
      EXPECT_TRUE(open.contains(message)) << open.message();
    EXPECT_EQ(m.model, nullptr);
  }
}

TEST_F(CudaDevice, ReportsAMissingKernelAndAMissingDevice) {
  TinyModel tiny = ptxTiny();
  tiny.matmulSymbol = "tiny_matmul_sm90";
  TempFile file;
  Model m;
  Status open{openTiny(tiny, file, &m.model)};
  EXPECT_EQ(open.code(), TERN_STATUS_NOT_FOUND) << open.message();
  EXPECT_TRUE(open.contains("kernel_libraries[0]: kernels[2]: the PTX module has no kernel "
                            "'tiny_matmul_sm90'"))
      << open.message();

  TempFile file2;
  Status second{openTiny(ptxTiny(), file2, &m.model, TERN_DEVICE_CUDA, /*ordinal=*/1)};
  EXPECT_EQ(second.code(), TERN_STATUS_INVALID_ARGUMENT) << second.message();
  EXPECT_TRUE(second.contains("device ordinal 1 does not exist: this host has 1 CUDA device(s)"))
      << second.message();
}

TEST_F(CudaDevice, ChecksTheArchitectureSuffixes) {
  const struct {
    const char *arch, *capability;
    bool opens;
  } cases[] = {
      {"sm_90a", "90", true},  {"sm_90a", "100", false}, {"sm_90", "100", true},
      {"sm_100f", "103", true}, {"sm_100f", "120", false}, {"sm_86", "80", false},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(std::string(c.arch) + " on " + c.capability);
    Environment local;
    local.set("FAKE_CUDA_COMPUTE_CAPABILITY", c.capability);
    TinyModel tiny = ptxTiny();
    tiny.gpuArch = c.arch;
    TempFile file;
    Model m;
    Status open{openTiny(tiny, file, &m.model)};
    if (c.opens)
      EXPECT_EQ(open.status, nullptr) << open.message();
    else
      EXPECT_EQ(open.code(), TERN_STATUS_UNAVAILABLE) << open.message();
  }
  TinyModel amd = ptxTiny();
  amd.gpuArch = "gfx90a";
  TempFile file;
  Model m;
  Status open{openTiny(amd, file, &m.model)};
  EXPECT_EQ(open.code(), TERN_STATUS_DATA_LOSS) << open.message();
  EXPECT_TRUE(open.contains("target.gpu_arch is 'gfx90a', expected sm_XY")) << open.message();
}

} // namespace
} // namespace tern::test
