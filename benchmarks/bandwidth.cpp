// Measures the machine's sustained memory read bandwidth (STREAM-like sum reduction) at N threads.
//
// Batch-1 decode reads every weight once per token, so this number is the roofline that
// decode tok/s is compared against: tok/s <= bandwidth / bytes read per token.

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <time.h>
#include <vector>

namespace {

struct Options {
  unsigned threads = 1;
  uint64_t bytes = uint64_t(1) << 30; // far larger than any last-level cache
  unsigned runs = 7;
};

void printUsage(FILE *out) {
  std::fprintf(out,
               "usage: tern-bandwidth [--threads N] [--bytes B[K|M|G]] [--runs R]\n"
               "Sum-reduces a B-byte buffer (default 1G) with N threads (default 1), R times\n"
               "(default 7), and prints the best run as JSON: {threads, bytes, runs, seconds, gb_per_s,\n"
               "gb_per_s_cpu_time}. gb_per_s uses wall time; gb_per_s_cpu_time uses the threads' CPU\n"
               "time, which a busy machine inflates less (compare the two to spot contention).\n");
}

bool parseSize(const char *text, uint64_t &out) {
  char *end = nullptr;
  unsigned long long value = std::strtoull(text, &end, 10);
  if (end == text)
    return false;
  uint64_t multiplier = 1;
  if (*end == 'K' || *end == 'k')
    multiplier = uint64_t(1) << 10, ++end;
  else if (*end == 'M' || *end == 'm')
    multiplier = uint64_t(1) << 20, ++end;
  else if (*end == 'G' || *end == 'g')
    multiplier = uint64_t(1) << 30, ++end;
  if (*end != '\0')
    return false;
  out = value * multiplier;
  return true;
}

bool parseOptions(int argc, char **argv, Options &options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      printUsage(stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "tern-bandwidth: '%s' needs a value (or is unknown)\n", arg.c_str());
      return false;
    }
    const char *value = argv[++i];
    uint64_t number = 0;
    if (!parseSize(value, number) || number == 0) {
      std::fprintf(stderr, "tern-bandwidth: %s expects a positive number, got '%s'\n",
                   arg.c_str(), value);
      return false;
    }
    if (arg == "--threads" || arg == "-t")
      options.threads = unsigned(std::min<uint64_t>(number, 1024));
    else if (arg == "--bytes")
      options.bytes = number;
    else if (arg == "--runs" || arg == "-r")
      options.runs = unsigned(std::min<uint64_t>(number, 1000));
    else {
      std::fprintf(stderr, "tern-bandwidth: unknown option '%s'\n", arg.c_str());
      return false;
    }
  }
  return true;
}

// Sums 64-bit words with eight independent accumulators so the loop is load-bound, not
// add-latency-bound; the compiler vectorises it to full-width vector loads.
uint64_t sumWords(const uint64_t *words, uint64_t count) {
  uint64_t acc[8] = {};
  uint64_t i = 0;
  for (; i + 8 <= count; i += 8)
    for (int lane = 0; lane < 8; ++lane)
      acc[lane] += words[i + lane];
  for (; i < count; ++i)
    acc[0] += words[i];
  uint64_t total = 0;
  for (uint64_t a : acc)
    total += a;
  return total;
}

double threadCPUSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

} // namespace

int main(int argc, char **argv) {
  Options options;
  if (!parseOptions(argc, argv, options)) {
    printUsage(stderr);
    return 2;
  }

  const uint64_t wordCount = options.bytes / sizeof(uint64_t);
  const uint64_t bytes = wordCount * sizeof(uint64_t);
  // One 64-byte-aligned block; each thread reads a contiguous slice of whole cache lines.
  const uint64_t allocBytes = (bytes + 63) / 64 * 64;
  auto *words = static_cast<uint64_t *>(std::aligned_alloc(64, allocBytes));
  if (!words) {
    std::fprintf(stderr, "tern-bandwidth: cannot allocate %llu bytes\n",
                 static_cast<unsigned long long>(allocBytes));
    return 1;
  }

  const unsigned threads = options.threads;
  std::vector<uint64_t> sliceBegin(threads + 1);
  const uint64_t linesTotal = wordCount / 8;
  for (unsigned t = 0; t <= threads; ++t)
    sliceBegin[t] = (t == threads) ? wordCount : linesTotal * t / threads * 8;

  std::vector<uint64_t> sums(threads * 8); // padded so threads do not share a line
  std::barrier sync(threads);
  std::vector<double> seconds(options.runs, 0.0);
  // CPU seconds each thread spent per run: on a shared machine a descheduled thread stretches
  // the wall time but not this, so it estimates the bandwidth an uncontended run would see.
  std::vector<double> cpuSeconds(size_t(options.runs) * threads, 0.0);

  auto worker = [&](unsigned t) {
    const uint64_t begin = sliceBegin[t], end = sliceBegin[t + 1];
    // First touch from the thread that will read the slice (matters on NUMA hosts).
    for (uint64_t i = begin; i < end; ++i)
      words[i] = i * 0x9E3779B97F4A7C15ull;
    sync.arrive_and_wait();
    // One untimed pass to settle page tables and TLBs.
    sums[t * 8] += sumWords(words + begin, end - begin);
    for (unsigned run = 0; run < options.runs; ++run) {
      sync.arrive_and_wait();
      auto start = std::chrono::steady_clock::now();
      const double cpuStart = threadCPUSeconds();
      sums[t * 8] += sumWords(words + begin, end - begin);
      cpuSeconds[size_t(run) * threads + t] = threadCPUSeconds() - cpuStart;
      sync.arrive_and_wait();
      if (t == 0)
        seconds[run] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  };

  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(worker, t);
  worker(0);
  for (auto &thread : pool)
    thread.join();

  uint64_t checksum = 0;
  for (unsigned t = 0; t < threads; ++t)
    checksum ^= sums[t * 8];
  std::free(words);

  const double best = *std::min_element(seconds.begin(), seconds.end());
  const double gbPerS = double(bytes) / best / 1e9;
  double bestCPU = 0.0;
  for (unsigned run = 0; run < options.runs; ++run) {
    // A run ends when its slowest thread does.
    double slowest = *std::max_element(cpuSeconds.begin() + size_t(run) * threads,
                                       cpuSeconds.begin() + size_t(run + 1) * threads);
    if (run == 0 || slowest < bestCPU)
      bestCPU = slowest;
  }
  const double gbPerSCPU = bestCPU > 0 ? double(bytes) / bestCPU / 1e9 : 0.0;
  // The checksum keeps the reduction observable so it cannot be optimised away.
  std::printf("{\"threads\": %u, \"bytes\": %llu, \"runs\": %u, \"seconds\": %.6f, "
              "\"gb_per_s\": %.2f, \"gb_per_s_cpu_time\": %.2f, \"checksum\": %llu}\n",
              threads, static_cast<unsigned long long>(bytes), options.runs, best, gbPerS, gbPerSCPU,
              static_cast<unsigned long long>(checksum));
  return 0;
}
