// Measures one core's clock and the throughput of the vector instructions the CPU kernels are
// built from (AVX2: vpmaddubsw, vpmaddwd, vpshufb, vpaddw; AVX-512 VNNI: vpdpbusd where the
// host has it), printed as one JSON object.
//
// It answers "how fast can a kernel made of these instructions be on this core": a ternary
// GEMM made of vpmaddubsw does 32 multiply-adds per instruction, so its ceiling is
// 32 x clock x (instructions per cycle). The clock is taken from a chain of dependent vpaddw
// (latency 1 cycle on every x86-64 core we know), so no performance counters are needed; a
// throughput is 8 independent chains of the instruction, reported per cycle of that clock.

#include <immintrin.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <time.h>

namespace {

long iterations = 100'000'000; // loop trips per measurement (--iterations)

double now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

// Seconds for iterations x |perIteration| executions of the instruction in the asm body.
template <typename Body> double timeLoop(Body body) {
  double best = 1e30;
  for (int run = 0; run < 3; ++run) {
    double start = now();
    body();
    best = std::min(best, now() - start);
  }
  return best;
}

// Eight independent chains of INSN, so only its throughput limits the loop.
#define EIGHT_CHAINS(INSN)                                                                     \
  [] __attribute__((target("avx2"))) {                                                         \
    __m256i x0 = _mm256_set1_epi8(1), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0,   \
            x7 = x0, y = _mm256_set1_epi8(3);                                                  \
    for (long i = 0; i < iterations; ++i)                                                     \
      __asm__ volatile(INSN " %8,%0,%0\n\t" INSN " %8,%1,%1\n\t" INSN " %8,%2,%2\n\t" INSN      \
                            " %8,%3,%3\n\t" INSN " %8,%4,%4\n\t" INSN " %8,%5,%5\n\t" INSN      \
                            " %8,%6,%6\n\t" INSN " %8,%7,%7"                                    \
                       : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5), "+x"(x6), \
                         "+x"(x7)                                                              \
                       : "x"(y));                                                              \
  }

__attribute__((target("avx2"))) void dependentAdds() {
  __m256i x = _mm256_set1_epi8(1), y = _mm256_set1_epi8(3);
  for (long i = 0; i < iterations; ++i)
    __asm__ volatile("vpaddw %1,%0,%0\n\tvpaddw %1,%0,%0\n\tvpaddw %1,%0,%0\n\tvpaddw %1,%0,%0"
                     : "+x"(x)
                     : "x"(y));
}

// vpdpbusd accumulates into its destination: 8 independent accumulators.
__attribute__((target("avx512vl,avx512vnni"))) void vnniChains() {
  __m256i x0 = _mm256_set1_epi8(1), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0,
          x7 = x0, y = _mm256_set1_epi8(3);
  for (long i = 0; i < iterations; ++i)
    __asm__ volatile("vpdpbusd %8,%8,%0\n\tvpdpbusd %8,%8,%1\n\tvpdpbusd %8,%8,%2\n\t"
                     "vpdpbusd %8,%8,%3\n\tvpdpbusd %8,%8,%4\n\tvpdpbusd %8,%8,%5\n\t"
                     "vpdpbusd %8,%8,%6\n\tvpdpbusd %8,%8,%7"
                     : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5), "+x"(x6),
                       "+x"(x7)
                     : "x"(y));
}

} // namespace

void printUsage(FILE *out) {
  std::fprintf(out, "usage: tern-isa-throughput [--iterations N]\n"
                    "Prints the core clock (GHz, from dependent vpaddw) and the instructions per "
                    "cycle of vpmaddubsw, vpmaddwd, vpshufb, vpaddw (ymm) and vpdpbusd (ymm, where "
                    "the CPU has AVX-512 VNNI) as JSON; N loop trips per measurement (default "
                    "100000000).\n");
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0) {
      printUsage(stdout);
      return 0;
    }
    char *end = nullptr;
    if (std::strcmp(argv[i], "--iterations") == 0 && i + 1 < argc &&
        (iterations = std::strtol(argv[++i], &end, 10)) > 0 && *end == '\0')
      continue;
    std::fprintf(stderr, "tern-isa-throughput: bad argument '%s'\n", argv[i]);
    printUsage(stderr);
    return 2;
  }
  if (!__builtin_cpu_supports("avx2")) {
    std::fprintf(stderr, "tern-isa-throughput: this CPU has no AVX2\n");
    return 1;
  }
  const double cycleSeconds = timeLoop(dependentAdds) / (4.0 * iterations);
  auto perCycle = [&](double seconds) { return cycleSeconds * 8.0 * iterations / seconds; };
  const double maddubs = perCycle(timeLoop(EIGHT_CHAINS("vpmaddubsw")));
  const double maddwd = perCycle(timeLoop(EIGHT_CHAINS("vpmaddwd")));
  const double shufb = perCycle(timeLoop(EIGHT_CHAINS("vpshufb")));
  const double addw = perCycle(timeLoop(EIGHT_CHAINS("vpaddw")));
  std::printf("{\"clock_ghz\": %.3f, \"per_cycle\": {\"vpmaddubsw_ymm\": %.2f, "
              "\"vpmaddwd_ymm\": %.2f, \"vpshufb_ymm\": %.2f, \"vpaddw_ymm\": %.2f",
              1e-9 / cycleSeconds, maddubs, maddwd, shufb, addw);
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl"))
    std::printf(", \"vpdpbusd_ymm\": %.2f", perCycle(timeLoop(vnniChains)));
  // int8 multiply-adds per second of one core: vpmaddubsw does 32 per ymm instruction.
  std::printf("}, \"vpmaddubsw_gmac_per_s\": %.1f}\n", maddubs * 32.0 / cycleSeconds * 1e-9);
  return 0;
}
