// Single-thread decode (and 16-row prefill) throughput of the lm_head kernels at the BitNet
// b1.58 2B-4T shape (128256 x 2560): quantized_matmul (q8_b32, q6_b32, q4_b32) and the float
// matmul it replaces (f16), streaming from DRAM, and from cache on a 4096-row slice (the
// kernel's compute bound), next to a read-bandwidth probe run in the same process. Disabled in
// ctest (timing, not correctness):
//   CodegenTests --gtest_also_run_disabled_tests --gtest_filter='QuantizedMatmulPerf.*'
// TERN_PERF_TARGETS=x86-64-v4,... limits the targets.
#include "CodegenTestUtil.h"

#include "packing/QuantizedPacking.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tern::cpu::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kVocab = 128256, kHidden = 2560, kCachedRows = 4096, kNBlock = 16;

struct Buffer {
  explicit Buffer(size_t size)
      : data(static_cast<uint8_t *>(std::aligned_alloc(64, (size + 63) / 64 * 64))) {}
  ~Buffer() { std::free(data); }
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;
  uint8_t *data;
};

// Best wall seconds per call of |call| over 5 batches of at least 30 ms and |minCalls| calls.
template <typename Call> double bestSeconds(Call &&call, int64_t minCalls) {
  call();
  double best = 1e30;
  for (int batch = 0; batch < 5; ++batch) {
    int64_t calls = 0;
    const auto start = Clock::now();
    double seconds = 0;
    do {
      call();
      ++calls;
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
    } while (calls < minCalls || seconds < 0.03);
    best = std::min(best, seconds / double(calls));
  }
  return best;
}

// GB/s of summing 64-bit words over 1 GiB (the approach of benchmarks/bandwidth.cpp).
double probeGBs() {
  const size_t words = size_t(1) << 27;
  Buffer buffer(words * 8);
  auto *w = reinterpret_cast<uint64_t *>(buffer.data);
  for (size_t i = 0; i < words; ++i)
    w[i] = i;
  volatile uint64_t sink = 0;
  const double seconds = bestSeconds(
      [&] {
        uint64_t acc[8] = {};
        for (size_t i = 0; i < words; i += 8)
          for (int lane = 0; lane < 8; ++lane)
            acc[lane] += w[i + lane];
        sink = sink + acc[0] + acc[7];
      },
      1);
  return double(words * 8) / seconds / 1e9;
}

std::vector<std::string> perfTargets() {
  std::vector<std::string> targets = runnableTargets();
  if (const char *only = std::getenv("TERN_PERF_TARGETS")) {
    const std::string list = std::string(",") + only + ",";
    std::erase_if(targets, [&](const std::string &t) {
      return list.find("," + t + ",") == std::string::npos;
    });
  }
  return targets;
}

// Seconds per call of the lm_head kernel |format| over |n| weight rows for |rows| activation
// rows (decode: 1; prefill_logits: more).
double callSeconds(const std::string &target, const std::string &format, int64_t n,
                   int64_t rows = 1) {
  KernelSpec spec;
  spec.symbol = "lm";
  const bool quantized = format != "f16";
  spec.family = quantized ? "quantized_matmul" : "matmul";
  spec.ints = {{"n", n}, {"k", kHidden}, {"n_block", kNBlock}};
  if (quantized)
    spec.strings = {{"format", format}};
  else
    spec.strings = {{"dtype", "f16"}}, spec.ints["x_stride"] = kHidden;
  std::string error;
  auto library = buildAndLoad({spec}, target, &error);
  EXPECT_TRUE(library) << error;
  if (!library)
    return 0;
  packing::QuantFormat qf = packing::QuantFormat::Q8B32;
  if (quantized)
    packing::quantFormatFromName(format.c_str(), &qf);
  const int64_t bytes = quantized ? packing::quantPackedBytes(qf, n, kHidden) : n * kHidden * 2;
  Buffer weights{size_t(bytes)};
  std::memset(weights.data, 0x11, size_t(bytes)); // small codes, tiny finite f16 scales
  std::vector<int8_t> q(rows * kHidden, 5);
  std::vector<float> x(rows * kHidden, 0.5f), qscale(rows, 1.0f), y(rows * n);
  std::vector<void *> bindings =
      quantized ? std::vector<void *>{q.data(), qscale.data(), weights.data, y.data()}
                : std::vector<void *>{x.data(), weights.data, y.data()};
  tern_cpu_kernel_fn fn = library->kernel("lm");
  return bestSeconds([&] { fn(bindings.data(), rows, 0, 0, n / kNBlock); }, 3);
}

TEST(QuantizedMatmulPerf, DISABLED_LmHeadDecode) {
  const double probe = probeGBs();
  std::printf("read bandwidth probe (1 thread, 1 GiB): %.2f GB/s\n", probe);
  for (const std::string &target : perfTargets())
    for (const char *format : {"q8_b32", "q6_b32", "q4_b32", "f16"}) {
      // Bytes per 32 weights: codes plus a 2-byte scale.
      const double bytesPerRow = std::string(format) == "f16"      ? kHidden * 2.0
                                 : std::string(format) == "q8_b32" ? kHidden * 34.0 / 32
                                 : std::string(format) == "q6_b32" ? kHidden * 26.0 / 32
                                                                   : kHidden * 18.0 / 32;
      const double stream = callSeconds(target, format, kVocab);
      const double cached = callSeconds(target, format, kCachedRows);
      std::printf("decode %-9s %-6s %lldx%lld | streaming %7.2f ms %6.2f GB/s = %3.0f%% of "
                  "probe | cached (%lld rows) %6.2f GB/s\n",
                  target.c_str(), format, (long long)kVocab, (long long)kHidden, stream * 1e3,
                  bytesPerRow * kVocab / stream / 1e9,
                  100.0 * bytesPerRow * kVocab / stream / 1e9 / probe, (long long)kCachedRows,
                  bytesPerRow * kCachedRows / cached / 1e9);
    }
  std::printf("read bandwidth probe again: %.2f GB/s\n", probeGBs());
}

// The prefill_logits path: 16 activation rows through the register tiles (4 x 4 on x86-64-v4,
// 2 x 4 on v3), over the cached slice, as weight GB/s and multiply-adds per second.
TEST(QuantizedMatmulPerf, DISABLED_LmHeadPrefill) {
  constexpr int64_t kRows = 16;
  for (const std::string &target : perfTargets())
    for (const char *format : {"q8_b32", "q6_b32", "q4_b32"}) {
      packing::QuantFormat qf;
      ASSERT_TRUE(packing::quantFormatFromName(format, &qf));
      const double bytes = double(packing::quantPackedBytes(qf, kCachedRows, kHidden));
      const double one = callSeconds(target, format, kCachedRows, 1);
      const double many = callSeconds(target, format, kCachedRows, kRows);
      std::printf("prefill %-9s %-6s %lld rows x %lldx%lld | %7.3f ms = %6.2f GB/s, %6.1f G "
                  "MAC/s (1 row: %6.2f GB/s, %6.1f G MAC/s)\n",
                  target.c_str(), format, (long long)kRows, (long long)kCachedRows,
                  (long long)kHidden, many * 1e3, bytes / many / 1e9,
                  double(kRows) * kCachedRows * kHidden / many / 1e9, bytes / one / 1e9,
                  double(kCachedRows) * kHidden / one / 1e9);
    }
}

} // namespace
} // namespace tern::cpu::test

