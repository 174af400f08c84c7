// Single-thread throughput of the generated ternary_matmul at the BitNet b1.58 2B-4T shapes:
// decode GEMV (rows = 1) against the machine's read bandwidth measured in the same run, and
// prefill GEMM (rows = 64, 128). Disabled in ctest (timing, not correctness); run with
//   CodegenTests --gtest_also_run_disabled_tests --gtest_filter='TernaryMatmulPerf.*'
// x86-64-v4+tl2 (the tl2_t64 lookup-table kernels) joins the targets on AVX-512 VBMI hosts,
// x86-64-v3+lut (the lookup-table prefill) wherever x86-64-v3 runs.
// TERN_PERF_TARGETS=x86-64-v4,generic limits the targets; TERN_PERF_ASM=DIR writes each
// measured kernel's assembly to DIR/ternary_matmul_<target>_<n>x<k>.s.
#include "CodegenTestUtil.h"
#include "PerfTiming.h"

#include "packing/TernaryPacking.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <time.h>

namespace tern::cpu::test {
namespace {

// The shapes (n x k) of one BitNet b1.58 2B-4T layer after QKV and gate/up fusion.
struct Shape {
  const char *name;
  int64_t n, k;
};
constexpr Shape kShapes[] = {
    {"qkv", 3840, 2560},
    {"attn_out", 2560, 2560},
    {"gate_up", 13824, 2560},
    {"ffn_down", 2560, 6912},
};
constexpr int64_t kNBlock = 64; // what tern-tile picks for these n at any thread count <= 10

// Working set of the streaming runs: far beyond the 32 MiB last-level cache, so every call
// reads its weights from DRAM as decode does (each layer's weights are read once per token).
constexpr int64_t kStreamingBytes = int64_t(256) << 20;

// 64-byte aligned bytes, like the artifact's weight sections.
struct AlignedBuffer {
  explicit AlignedBuffer(size_t size)
      : data(static_cast<uint8_t *>(std::aligned_alloc(64, (size + 63) / 64 * 64))) {}
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer &) = delete;
  AlignedBuffer &operator=(const AlignedBuffer &) = delete;
  uint8_t *data;
};

// The approach of benchmarks/bandwidth.cpp (sum of 64-bit words, eight accumulators) over
// kStreamingBytes, best of |runs|: the 1-thread read roofline decode is compared against.
Timing readBandwidthSeconds(int runs = 5) {
  const uint64_t words = uint64_t(kStreamingBytes) / 8;
  AlignedBuffer buffer(words * 8);
  auto *w = reinterpret_cast<uint64_t *>(buffer.data);
  for (uint64_t i = 0; i < words; ++i)
    w[i] = i * 0x9E3779B97F4A7C15ull;
  volatile uint64_t sink = 0;
  Timing best;
  for (int run = 0; run <= runs; ++run) {
    auto start = Clock::now();
    const double cpuStart = threadSeconds();
    uint64_t acc[8] = {};
    for (uint64_t i = 0; i + 8 <= words; i += 8)
      for (int lane = 0; lane < 8; ++lane)
        acc[lane] += w[i + lane];
    const double cpu = threadSeconds() - cpuStart;
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    for (uint64_t a : acc)
      sink = sink + a;
    if (run > 0) // the first run settles page tables
      best.add(wall, cpu);
  }
  return best;
}

// GB/s of |bytes| per |seconds|, wall clock and CPU time.
struct Rate {
  double wall, cpu;
};
Rate rate(double bytes, const Timing &t) { return {bytes / t.wall / 1e9, bytes / t.cpu / 1e9}; }

std::vector<std::string> perfTargets() {
  std::vector<std::string> targets = runnableTargets();
  if (hostRunsLookupTableKernels())
    targets.insert(targets.begin(), "x86-64-v4+tl2");
  if (hostRuns("x86-64-v3"))
    targets.push_back("x86-64-v3+lut"); // prefill rows by lookup tables; decode as x86-64-v3
  if (hostRunsAmxKernels()) // prefill rows on AMX tiles; decode as x86-64-v4
    targets.insert(targets.begin(), "x86-64-v4+amx");
  if (const char *only = std::getenv("TERN_PERF_TARGETS")) {
    std::string list = std::string(",") + only + ",";
    std::erase_if(targets, [&](const std::string &t) {
      return list.find("," + t + ",") == std::string::npos;
    });
  }
  return targets;
}

struct Kernel {
  std::unique_ptr<LoadedLibrary> library;
  tern_cpu_kernel_fn fn = nullptr;
};

packing::TernaryLayout layoutOf(const std::string &target) {
  return target.ends_with("+tl2") ? packing::TernaryLayout::TL2T64
                                  : packing::TernaryLayout::I2B128;
}

// |copies| packed copies of an all-zero (n, k) matrix in |target|'s layout: the outputs are
// exactly 0, which checks each run.
void fillZeroWeights(const std::string &target, const Shape &s, uint8_t *out, int64_t copies) {
  const auto layout = layoutOf(target);
  const int64_t bytes = packing::packedBytes(layout, s.n, s.k);
  std::vector<int8_t> zeros(size_t(s.n * s.k), 0);
  ASSERT_TRUE(packing::packTernary(layout, zeros.data(), s.n, s.k, out));
  for (int64_t c = 1; c < copies; ++c)
    std::memcpy(out + c * bytes, out, size_t(bytes));
}

Kernel buildKernel(const std::string &target, const Shape &s) {
  KernelSpec spec{"tmm", "ternary_matmul", {{"n", s.n}, {"k", s.k}, {"n_block", kNBlock}}, {},
                  {{"packing", packing::ternaryLayoutName(layoutOf(target))}}};
  if (const char *dir = std::getenv("TERN_PERF_ASM")) {
    auto resolved = resolveTestTarget(target);
    auto text = resolved ? emitKernels({spec}, *resolved, "asm")
                         : llvm::Expected<std::string>(resolved.takeError());
    if (text)
      std::ofstream(std::string(dir) + "/ternary_matmul_" + target + "_" + std::to_string(s.n) +
                    "x" + std::to_string(s.k) + ".s")
          << *text;
    else
      llvm::consumeError(text.takeError());
  }
  Kernel kernel;
  std::string error;
  kernel.library = buildAndLoad({spec}, target, &error);
  EXPECT_TRUE(kernel.library) << error;
  if (kernel.library)
    kernel.fn = kernel.library->kernel("tmm");
  return kernel;
}

// Seconds per call of |call| (called with a call counter): the best of 7 batches, each batch
// long enough (>= 30 ms and >= |minCalls| calls) to hide timer and scheduling noise.
template <typename Call> Timing secondsPerCall(Call &&call, int64_t minCalls) {
  int64_t counter = 0;
  for (int64_t i = 0; i < minCalls; ++i) // warm-up: page tables, caches, branch predictors
    call(counter++);
  Timing best;
  for (int batch = 0; batch < 7; ++batch) {
    int64_t calls = 0;
    auto start = Clock::now();
    const double cpuStart = threadSeconds();
    double seconds = 0;
    do {
      call(counter++);
      ++calls;
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
    } while (calls < minCalls || seconds < 0.03);
    best.add(seconds / double(calls), (threadSeconds() - cpuStart) / double(calls));
  }
  return best;
}

// Decode: rows = 1. Cached: one weight copy (it stays in L2/L3, the kernel's compute bound).
// Streaming: calls rotate through copies filling kStreamingBytes, so weights come from DRAM.
void measureDecode(const std::string &target, const Shape &s, const Rate &bandwidth) {
  Kernel kernel = buildKernel(target, s);
  ASSERT_NE(kernel.fn, nullptr);
  const int64_t bytes = packing::packedBytes(layoutOf(target), s.n, s.k);
  std::vector<int8_t> q(s.k, 3);
  std::vector<float> qscale(1, 1.0f), wscale(s.n, 1.0f), y(s.n);
  Timing perCall[2];
  for (bool streaming : {false, true}) {
    const int64_t copies = streaming ? std::max<int64_t>(2, kStreamingBytes / bytes + 1) : 1;
    AlignedBuffer weights(size_t(bytes * copies));
    fillZeroWeights(target, s, weights.data, copies);
    auto call = [&](int64_t i) {
      std::vector<void *> bindings = {q.data(), qscale.data(), weights.data + (i % copies) * bytes,
                                      wscale.data(), y.data()};
      kernel.fn(bindings.data(), 1, 0, 0, s.n / kNBlock);
    };
    perCall[streaming] = secondsPerCall(call, std::max<int64_t>(copies, 20));
    for (float v : y)
      ASSERT_EQ(v, 0.0f);
  }
  const Rate cached = rate(double(bytes), perCall[0]);
  const Rate stream = rate(double(bytes), perCall[1]);
  std::printf("decode  %-13s %-8s %5lldx%-5lld | cached %7.1f us %6.2f GB/s | streaming %7.1f us "
              "%6.2f GB/s = %3.0f%% of probe (cpu time: %6.2f GB/s = %3.0f%%)\n",
              target.c_str(), s.name, (long long)s.n, (long long)s.k, perCall[0].wall * 1e6,
              cached.wall, perCall[1].wall * 1e6, stream.wall, 100.0 * stream.wall / bandwidth.wall,
              stream.cpu, 100.0 * stream.cpu / bandwidth.cpu);
}

// Prefill: rows = 64 and 128 against one weight copy; the figure of merit is multiply-adds
// per second (each weight is used |rows| times).
// Random ternary weights and activations: the lookup-table kernels' speed depends on which
// table entries the weights select (all-zero weights would read one entry of each table).
// Sampled outputs are checked against exact dots (scales 1).
void measurePrefill(const std::string &target, const Shape &s) {
  Kernel kernel = buildKernel(target, s);
  ASSERT_NE(kernel.fn, nullptr);
  const int64_t bytes = packing::packedBytes(layoutOf(target), s.n, s.k);
  AlignedBuffer weights{size_t(bytes)};
  std::mt19937 rng(uint32_t(s.n * 31 + s.k));
  std::uniform_int_distribution<int> weight(-1, 1), act(-127, 127), pick(0, 1 << 30);
  std::vector<int8_t> w(size_t(s.n * s.k));
  for (int8_t &v : w)
    v = int8_t(weight(rng));
  ASSERT_TRUE(packing::packTernary(layoutOf(target), w.data(), s.n, s.k, weights.data));
  std::printf("prefill %-13s %-8s %5lldx%-5lld", target.c_str(), s.name, (long long)s.n,
              (long long)s.k);
  for (int64_t rows : {64, 128}) {
    std::vector<int8_t> q(rows * s.k);
    for (int8_t &v : q)
      v = int8_t(act(rng));
    std::vector<float> qscale(rows, 1.0f), wscale(s.n, 1.0f), y(rows * s.n);
    std::vector<void *> bindings = {q.data(), qscale.data(), weights.data, wscale.data(),
                                    y.data()};
    Timing t = secondsPerCall(
        [&](int64_t) { kernel.fn(bindings.data(), rows, 0, 0, s.n / kNBlock); }, 2);
    std::printf(" | rows %3lld %8.2f ms %6.1f GMAC/s (cpu time %6.1f)", (long long)rows,
                t.wall * 1e3, double(rows) * s.n * s.k / t.wall / 1e9,
                double(rows) * s.n * s.k / t.cpu / 1e9);
    for (int sample = 0; sample < 64; ++sample) {
      const int64_t row = pick(rng) % rows, col = pick(rng) % s.n;
      int64_t dot = 0;
      for (int64_t i = 0; i < s.k; ++i)
        dot += int64_t(q[row * s.k + i]) * w[col * s.k + i];
      ASSERT_EQ(y[row * s.n + col], float(dot)) << "row " << row << " col " << col;
    }
  }
  std::printf("\n");
}

TEST(TernaryMatmulPerf, DISABLED_DecodeGemvBandwidth) {
  // The probe runs before and after the kernels, so a change of load shows; the percentages
  // are against the first.
  const Rate probe = rate(double(kStreamingBytes), readBandwidthSeconds());
  std::printf("read bandwidth probe (1 thread, %lld MiB, sum of u64 words): %.2f GB/s "
              "(cpu time %.2f GB/s)\n",
              (long long)(kStreamingBytes >> 20), probe.wall, probe.cpu);
  for (const std::string &target : perfTargets())
    for (const Shape &s : kShapes)
      measureDecode(target, s, probe);
  const Rate again = rate(double(kStreamingBytes), readBandwidthSeconds());
  std::printf("read bandwidth probe again: %.2f GB/s (cpu time %.2f GB/s)\n", again.wall,
              again.cpu);
}

TEST(TernaryMatmulPerf, DISABLED_PrefillGemm) {
  for (const std::string &target : perfTargets())
    for (const Shape &s : kShapes)
      measurePrefill(target, s);
}

} // namespace
} // namespace tern::cpu::test
