// Single-thread time of the generated attention kernel at the BitNet b1.58 2B-4T shape (20 heads,
// 5 kv heads, head_dim 128), stories260K's (8 heads, 4 kv heads, head_dim 8) and two llama2.c
// shapes without grouping (head_dim 48 and 64): decode (rows = 1), prefill (64 rows) and
// prefill with the tiles of AttentionTiles.cpp turned off, with the last row at contexts 128, 512
// and 2048. Disabled in
// ctest (timing, not correctness); run with
//   CodegenTests --gtest_also_run_disabled_tests --gtest_filter='AttentionPerf.*'
// TERN_PERF_TARGETS=x86-64-v4,generic limits the targets; TERN_PERF_ASM=DIR writes each
// measured kernel's assembly to DIR/attention_<target>_<heads>_<kv_heads>_<head_dim>.s.
#include "CodegenTestUtil.h"
#include "PerfTiming.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <time.h>

namespace tern::cpu::test {
namespace {

// Seconds per call: the best of 7 batches, each >= 20 ms and >= 3 calls.
template <typename Call> Timing secondsPerCall(Call &&call) {
  for (int i = 0; i < 3; ++i) // warm-up: caches, branch predictors
    call();
  Timing best;
  for (int batch = 0; batch < 7; ++batch) {
    int64_t calls = 0;
    auto start = Clock::now();
    const double cpuStart = threadSeconds();
    double seconds = 0;
    do {
      call();
      ++calls;
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
    } while (calls < 3 || seconds < 0.02);
    best.add(seconds / double(calls), (threadSeconds() - cpuStart) / double(calls));
  }
  return best;
}

struct Shape {
  const char *name;
  int64_t heads, kvHeads, headDim;
};
constexpr Shape kShapes[] = {
    {"2B-4T", 20, 5, 128},
    {"stories260K", 8, 4, 8},
    {"stories15M", 6, 6, 48},
    {"stories110M", 12, 12, 64},
};
constexpr int64_t kCacheContext = 2048; // the cache's capacity (spec 'context')

std::vector<std::string> perfTargets() {
  std::vector<std::string> targets = runnableTargets();
  if (const char *only = std::getenv("TERN_PERF_TARGETS")) {
    std::string list = std::string(",") + only + ",";
    std::erase_if(targets, [&](const std::string &t) {
      return list.find("," + t + ",") == std::string::npos;
    });
  }
  return targets;
}

// The kernel as compiled, or (withoutTiles) with prefill tiles turned off, for the before/after
// comparison of the tiles in one run.
KernelSpec specOf(const Shape &s, bool withoutTiles = false) {
  KernelSpec spec;
  spec.symbol = withoutTiles ? "attn_no_tiles" : "attn";
  spec.family = "attention";
  spec.ints = {{"heads", s.heads}, {"kv_heads", s.kvHeads}, {"head_dim", s.headDim},
               {"q_stride", s.heads * s.headDim}, {"context", kCacheContext}};
  if (withoutTiles)
    spec.ints["tiles_min_queries"] = 0;
  spec.floats = {{"scale", 1.0 / std::sqrt(double(s.headDim))}};
  return spec;
}

void measure(const std::string &target, const Shape &s) {
  const KernelSpec spec = specOf(s);
  if (const char *dir = std::getenv("TERN_PERF_ASM")) {
    auto resolved = resolveCpuTarget(target);
    auto text = resolved ? emitKernels({spec}, *resolved, "asm")
                         : llvm::Expected<std::string>(resolved.takeError());
    if (text)
      std::ofstream(std::string(dir) + "/attention_" + target + "_" + std::to_string(s.heads) +
                    "_" + std::to_string(s.kvHeads) + "_" + std::to_string(s.headDim) + ".s")
          << *text;
    else
      llvm::consumeError(text.takeError());
  }
  std::string error;
  const auto buildStart = Clock::now();
  auto library = buildAndLoad({spec, specOf(s, /*withoutTiles=*/true)}, target, &error);
  ASSERT_TRUE(library) << error;
  std::printf("%-10s %-12s generated and compiled in %.2f s\n", target.c_str(), s.name,
              std::chrono::duration<double>(Clock::now() - buildStart).count());
  tern_cpu_kernel_fn fn = library->kernel("attn");
  tern_cpu_kernel_fn noTiles = library->kernel("attn_no_tiles");
  ASSERT_TRUE(fn && noTiles);
  const int64_t width = s.kvHeads * s.headDim;
  std::mt19937 rng(1);
  std::vector<float> kCache = randomFloats(rng, kCacheContext * width);
  std::vector<float> vCache = randomFloats(rng, kCacheContext * width);
  // Decode, prefill as compiled, and prefill without tiles (the same kernel where the shape
  // takes no tiles).
  const std::pair<const char *, tern_cpu_kernel_fn> runs[] = {
      {"decode", fn}, {"prefill", fn}, {"no tiles", noTiles}};
  for (const auto &[label, kernel] : runs) {
    const int64_t rows = std::string(label) == "decode" ? 1 : 64;
    std::vector<float> q = randomFloats(rng, rows * s.heads * s.headDim);
    std::vector<float> out(rows * s.heads * s.headDim);
    std::vector<void *> bindings = {q.data(), kCache.data(), vCache.data(), out.data()};
    std::printf("%-10s %-12s %-8s", target.c_str(), s.name, label);
    for (int64_t context : {128, 512, 2048}) {
      const int64_t pos = context - rows; // the last row attends to all |context| positions
      tern_cpu_kernel_fn call = kernel;
      Timing t = secondsPerCall([&] { call(bindings.data(), rows, pos, 0, s.heads); });
      // K and V rows read once per call (what a kernel that shares them across a group and
      // across rows must read at least).
      const double bytes = 2.0 * double(context) * double(width) * sizeof(float);
      std::printf(" | ctx %4lld %9.1f us (cpu %9.1f) %6.2f GB/s", (long long)context,
                  t.wall * 1e6, t.cpu * 1e6, bytes / t.wall / 1e9);
      for (float v : out)
        ASSERT_FALSE(std::isnan(v));
    }
    std::printf("\n");
  }
}

TEST(AttentionPerf, DISABLED_DecodeAndPrefill) {
  for (const std::string &target : perfTargets())
    for (const Shape &s : kShapes)
      measure(target, s);
}

} // namespace
} // namespace tern::cpu::test
