// `tern bench --profile`: per-kernel time and bytes of one bench test, as a table or JSON.
#ifndef TERN_CLI_BENCHPROFILE_H
#define TERN_CLI_BENCHPROFILE_H

#include "tern/tern.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tern::cli {

// The profile of one bench test (prefill or decode) over its profiled repetitions.
struct TestProfile {
  std::string test;             // "prefill" or "decode"
  std::string unit;             // what the per-unit figures divide by: "prefill" or "token"
  int64_t units = 0;            // prefills run or tokens decoded while profiling
  double timed_ms_per_unit = 0; // the same test's unprofiled mean, for comparison
  std::vector<tern_profile_record_t> kernels;
};

// One kernel's figures per unit, derived from its record.
struct KernelFigures {
  double calls_per_unit = 0;
  double ms_per_unit = 0;
  double share = 0;                     // of the test's kernel time, in [0, 1]
  double kv_cache_bytes_per_call = 0;   // averaged over the test's positions
  double gb_per_s = 0;                  // (weight + KV-cache bytes) / seconds, 1e9 bytes
};

// |record|'s figures within |profile| (whose kernel seconds sum to |total_seconds|).
KernelFigures kernelFigures(const TestProfile& profile, const tern_profile_record_t& record,
                            double total_seconds);

// Sum of the seconds of |profile|'s kernels.
double totalSeconds(const TestProfile& profile);

// The text table `tern bench --profile` prints for |profile|.
std::string formatProfileTable(const TestProfile& profile);

// The JSON object `tern bench --profile --json` prints under "profile"."<test>".
nlohmann::ordered_json profileJson(const TestProfile& profile);

} // namespace tern::cli

#endif // TERN_CLI_BENCHPROFILE_H
