// Single-thread decode GEMV throughput of the generated ternary_matmul at the BitNet 2B shapes.
// Disabled in ctest (timing, not correctness); run with --gtest_also_run_disabled_tests.
#include "CodegenTestUtil.h"

#include "packing/TernaryPacking.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

namespace tern::cpu::test {
namespace {

void measure(int64_t n, int64_t k, bool streaming) {
  const std::string target = runnableTargets().front();
  const int64_t nBlock = 64;
  KernelSpec spec{"tmm", "ternary_matmul", {{"n", n}, {"k", k}, {"n_block", nBlock}}, {},
                  {{"packing", "i2_b128"}}};
  std::string error;
  auto library = buildAndLoad({spec}, target, &error);
  ASSERT_TRUE(library) << error;
  tern_cpu_kernel_fn fn = library->kernel("tmm");

  // Streaming: enough distinct weight copies (> 64 MiB) that they cannot stay in the last-level
  // cache, as in decode; otherwise one copy, to see the kernel's compute bound.
  const int64_t bytes = packing::packedBytes(packing::TernaryLayout::I2B128, n, k);
  const int64_t copies = streaming ? std::max<int64_t>(2, (64 << 20) / bytes + 1) : 1;
  std::vector<std::vector<uint8_t>> weights(copies, std::vector<uint8_t>(bytes, 0x55));
  std::vector<int8_t> q(k, 3);
  std::vector<float> qscale(1, 1.0f), wscale(n, 1.0f), y(n);
  auto run = [&](int64_t i) {
    std::vector<void *> bindings = {q.data(), qscale.data(), weights[i % copies].data(),
                                    wscale.data(), y.data()};
    fn(bindings.data(), 1, 0, 0, n / nBlock);
  };
  for (int64_t i = 0; i < copies; ++i)
    run(i);
  const int64_t iterations = std::max<int64_t>(20 * copies, 200);
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iterations; ++i)
    run(i);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double gbps = double(bytes) * iterations / seconds / 1e9;
  std::printf("ternary_matmul %s n=%lld k=%lld %s: %.1f us/call, %.2f GB/s of packed weights\n",
              target.c_str(), (long long)n, (long long)k, streaming ? "streaming" : "cached",
              seconds / iterations * 1e6, gbps);
  // All-zero weights (code 1) give zero outputs.
  for (float v : y)
    ASSERT_EQ(v, 0.0f);
}

TEST(TernaryMatmulPerf, DISABLED_DecodeGemvBandwidth) {
  for (bool streaming : {false, true}) {
    measure(6912, 2560, streaming); // FFN up / gate
    measure(2560, 6912, streaming); // FFN down
  }
}

} // namespace
} // namespace tern::cpu::test
