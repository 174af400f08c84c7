// `tern bench`: prefill and decode speed, mean and standard deviation over repetitions, and
// with --profile the time and bytes of each kernel.
#include "BenchProfile.h"
#include "Commands.h"
#include "Common.h"

#include <nlohmann/json.hpp>

#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace tern::cli {
namespace {

struct Stats {
  double mean = 0;
  double stddev = 0; // sample standard deviation; 0 with one repetition
};

Stats statsOf(const std::vector<double>& values) {
  Stats stats;
  if (values.empty())
    return stats;
  for (double value : values)
    stats.mean += value;
  stats.mean /= values.size();
  if (values.size() > 1) {
    double squares = 0;
    for (double value : values)
      squares += (value - stats.mean) * (value - stats.mean);
    stats.stddev = std::sqrt(squares / (values.size() - 1));
  }
  return stats;
}

// Token ids spread over the vocabulary; which ids are used does not change the work done.
std::vector<int32_t> benchTokens(int32_t count, int64_t vocab_size) {
  std::vector<int32_t> tokens(count);
  for (int32_t i = 0; i < count; ++i)
    tokens[i] = static_cast<int32_t>((static_cast<int64_t>(i) * 7919 + 13) % vocab_size);
  return tokens;
}

// One prefill test: |prompt| from position 0.
bool runPrefill(const std::string& command, tern_session_t* session,
                const std::vector<int32_t>& prompt) {
  tern_session_reset(session);
  return succeeded(command, tern_session_eval(session, prompt.data(), prompt.size()),
                   "prefill failed");
}

// One decode test: each of |steps| evaluated alone, from position 0.
bool runDecode(const std::string& command, tern_session_t* session,
               const std::vector<int32_t>& steps) {
  tern_session_reset(session);
  for (int32_t token : steps)
    if (!succeeded(command, tern_session_eval(session, &token, 1), "decode failed"))
      return false;
  return true;
}

// Copies every record of |session|'s profile; false (printed) on error.
bool readProfile(const std::string& command, const tern_session_t* session,
                 std::vector<tern_profile_record_t>* records) {
  records->resize(tern_session_profile_count(session));
  for (size_t i = 0; i < records->size(); ++i)
    if (!succeeded(command,
                   tern_session_profile_record(session, i, &(*records)[i],
                                               sizeof(tern_profile_record_t)),
                   "cannot read the profile"))
      return false;
  return true;
}

// Runs |run| |repetitions| more times with profiling on and fills |profile->kernels| with
// what it cost. Separate from the timed repetitions so the tok/s figures stay unprofiled.
template <typename Run>
bool profileTest(const std::string& command, tern_session_t* session, int32_t repetitions,
                 Run run, TestProfile* profile) {
  tern_session_profile_reset(session);
  tern_session_profile_enable(session, 1);
  bool ok = true;
  for (int32_t repetition = 0; ok && repetition < repetitions; ++repetition)
    ok = run();
  tern_session_profile_enable(session, 0);
  ok = ok && readProfile(command, session, &profile->kernels);
  tern_session_profile_reset(session);
  return ok;
}

} // namespace

int benchCommand(int argc, char** argv) {
  int32_t prompt_tokens = 128;
  int32_t decode_tokens = 64;
  int32_t repetitions = 5;
  bool json = false;
  bool profile = false;
  ModelFlags model_flags;
  Flags flags("tern bench", "tern bench MODEL.tern [-p 128] [-n 64] [flags]",
              "Measures prefill speed (a -p token prompt from position 0) and decode speed (-n\n"
              "single-token steps from position 0), like llama-bench's pp and tg tests.\n"
              "--profile then runs each test -r more times with per-kernel timing on, so the\n"
              "tok/s figures are never measured with the profiler's clock reads.");
  flags.addInt("--n-prompt", "-p", &prompt_tokens, Range{0, 1e9},
               "prompt tokens for the prefill test; 0 skips it (default 128)");
  flags.addInt("--n-gen", "-n", &decode_tokens, Range{0, 1e9},
               "decode steps for the decode test; 0 skips it (default 64)");
  flags.addInt("--repetitions", "-r", &repetitions, Range{1, 1e6},
               "times each test runs (default 5)");
  flags.addBool("--json", nullptr, &json, "print one JSON object instead of text");
  flags.addBool("--profile", nullptr, &profile,
                "then time each kernel over -r more runs per test (JSON: \"profile\")");
  model_flags.add(flags);

  switch (flags.parse(argc, argv)) {
  case ParseOutcome::Help:
    std::fputs(flags.help().c_str(), stdout);
    return 0;
  case ParseOutcome::Error:
    std::fprintf(stderr, "%s\n", flags.error().c_str());
    return kExitUsage;
  case ParseOutcome::Ok:
    break;
  }
  if (!flags.expectPositionals(1, "the MODEL.tern argument")) {
    std::fprintf(stderr, "%s\n", flags.error().c_str());
    return kExitUsage;
  }
  const std::string command = flags.command();
  if (prompt_tokens == 0 && decode_tokens == 0) {
    std::fprintf(stderr, "%s: -p and -n are both 0; there is nothing to measure\n",
                 command.c_str());
    return kExitUsage;
  }

  const std::string path = flags.positionals()[0];
  ModelPtr model = openModel(command, path, model_flags);
  if (!model)
    return kExitFailure;
  tern_model_info_t info;
  tern_model_info(model.get(), &info);
  for (auto [flag, count] : {std::pair<const char*, int32_t>{"-p", prompt_tokens},
                             std::pair<const char*, int32_t>{"-n", decode_tokens}}) {
    if (count > info.context_length) {
      std::fprintf(stderr, "%s: %s is %d but the model's context holds %" PRId64 "\n",
                   command.c_str(), flag, count, info.context_length);
      return kExitUsage;
    }
  }
  SessionPtr session = createSession(command, model.get());
  if (!session)
    return kExitFailure;

  const std::vector<int32_t> prompt = benchTokens(prompt_tokens, info.vocab_size);
  const std::vector<int32_t> steps = benchTokens(decode_tokens, info.vocab_size);
  // One untimed step first: page in the weights and start the worker threads.
  if (!succeeded(command, tern_session_eval(session.get(), steps.empty() ? prompt.data()
                                                                          : steps.data(), 1),
                 "warm-up failed"))
    return kExitFailure;

  std::vector<double> prefill_rates, decode_rates;
  for (int32_t repetition = 0; repetition < repetitions; ++repetition) {
    if (prompt_tokens > 0) {
      Clock::time_point start = Clock::now();
      if (!runPrefill(command, session.get(), prompt))
        return kExitFailure;
      prefill_rates.push_back(prompt_tokens / secondsSince(start));
    }
    if (decode_tokens > 0) {
      Clock::time_point start = Clock::now();
      if (!runDecode(command, session.get(), steps))
        return kExitFailure;
      decode_rates.push_back(decode_tokens / secondsSince(start));
    }
  }
  const Stats prefill = statsOf(prefill_rates);
  const Stats decode = statsOf(decode_rates);

  // The profiled runs come after every timed one: their clock reads cannot slow the tok/s.
  std::vector<TestProfile> profiles;
  if (profile && prompt_tokens > 0) {
    TestProfile test{"prefill", "prefill", repetitions, 1e3 * prompt_tokens / prefill.mean, {}};
    if (!profileTest(command, session.get(), repetitions,
                     [&] { return runPrefill(command, session.get(), prompt); }, &test))
      return kExitFailure;
    profiles.push_back(std::move(test));
  }
  if (profile && decode_tokens > 0) {
    TestProfile test{"decode", "token", int64_t(decode_tokens) * repetitions, 1e3 / decode.mean,
                     {}};
    if (!profileTest(command, session.get(), repetitions,
                     [&] { return runDecode(command, session.get(), steps); }, &test))
      return kExitFailure;
    profiles.push_back(std::move(test));
  }

  if (json) {
    nlohmann::ordered_json result;
    result["model"] = path;
    result["target_cpu"] = info.target_cpu ? info.target_cpu : "";
    result["threads"] = info.num_threads;
    result["kernels"] = model_flags.kernels;
    result["p"] = prompt_tokens;
    result["n"] = decode_tokens;
    result["repetitions"] = repetitions;
    result["prefill_tok_s"] = prefill.mean;
    result["prefill_tok_s_stddev"] = prefill.stddev;
    result["decode_tok_s"] = decode.mean;
    result["decode_tok_s_stddev"] = decode.stddev;
    result["weight_bytes"] = info.weight_bytes;
    if (profile) {
      nlohmann::ordered_json profile_json;
      profile_json["repetitions"] = repetitions;
      for (const TestProfile& test : profiles)
        profile_json[test.test] = profileJson(test);
      result["profile"] = std::move(profile_json);
    }
    // Paths need not be UTF-8; replace rather than abort on a bad byte.
    std::printf("%s\n", result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("model: %s (%s, target %s, %d threads, %s kernels, %.1f MiB of weights)\n",
              path.c_str(), info.architecture ? info.architecture : "?",
              info.target_cpu ? info.target_cpu : "?", static_cast<int>(info.num_threads),
              model_flags.kernels.c_str(), info.weight_bytes / (1024.0 * 1024.0));
  if (prompt_tokens > 0)
    std::printf("prefill p=%-5d %10.2f ± %.2f tok/s\n", prompt_tokens, prefill.mean,
                prefill.stddev);
  if (decode_tokens > 0)
    std::printf("decode  n=%-5d %10.2f ± %.2f tok/s\n", decode_tokens, decode.mean,
                decode.stddev);
  for (const TestProfile& test : profiles)
    std::printf("\n%s", formatProfileTable(test).c_str());
  return 0;
}

} // namespace tern::cli
