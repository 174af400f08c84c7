// `tern bench`: prefill and decode speed, mean and standard deviation over repetitions, startup
// time and memory, and with --profile the time and bytes of each kernel.
#include "BenchProfile.h"
#include "Commands.h"
#include "Common.h"

#include <nlohmann/json.hpp>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

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

// The process's peak resident set (VmHWM of /proc/self/status) in bytes; false where the file
// or the line is missing (not Linux).
bool peakResidentBytes(uint64_t* bytes) {
  std::FILE* status = std::fopen("/proc/self/status", "r");
  if (!status)
    return false;
  char line[256];
  bool found = false;
  while (!found && std::fgets(line, sizeof(line), status)) {
    unsigned long long kib = 0;
    if (std::strncmp(line, "VmHWM:", 6) == 0 && std::sscanf(line + 6, "%llu", &kib) == 1) {
      *bytes = uint64_t(kib) * 1024;
      found = true;
    }
  }
  std::fclose(status);
  return found;
}

// The id of the largest logit (the lowest on ties): a greedy first token.
int32_t argmax(const float* logits, int64_t vocab_size) {
  int32_t best = 0;
  for (int64_t i = 1; i < vocab_size; ++i)
    if (logits[i] > logits[best])
      best = static_cast<int32_t>(i);
  return best;
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
  int32_t context = 0;
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
  flags.addInt("--ctx-size", "-c", &context, Range{0, 1e9},
               "positions the session's KV cache holds; 0 = the model's context (default)");
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
  // Startup is timed from here: open (map, verify, load kernels), then the session.
  const Clock::time_point open_start = Clock::now();
  ModelPtr model = openModel(command, path, model_flags);
  if (!model)
    return kExitFailure;
  tern_model_info_t info;
  tern_model_info(model.get(), &info);
  if (context > info.context_length) {
    std::fprintf(stderr, "%s: --ctx-size is %d but the model's context holds %" PRId64 "\n",
                 command.c_str(), context, info.context_length);
    return kExitUsage;
  }
  const int64_t session_context = context > 0 ? context : info.context_length;
  for (auto [flag, count] : {std::pair<const char*, int32_t>{"-p", prompt_tokens},
                             std::pair<const char*, int32_t>{"-n", decode_tokens}}) {
    if (count > session_context) {
      std::fprintf(stderr, "%s: %s is %d but the session's context holds %" PRId64 "\n",
                   command.c_str(), flag, count, session_context);
      return kExitUsage;
    }
  }
  tern_session_options_t session_options;
  tern_session_options_init(&session_options);
  session_options.context_length = context;
  tern_session_t* raw_session = nullptr;
  if (!succeeded(command, tern_session_create(model.get(), &session_options, &raw_session),
                 "cannot create a session"))
    return kExitFailure;
  SessionPtr session(raw_session);
  const double load_seconds = secondsSince(open_start);
  tern_session_info_t session_info;
  tern_session_info(session.get(), &session_info);

  const std::vector<int32_t> prompt = benchTokens(prompt_tokens, info.vocab_size);
  const std::vector<int32_t> steps = benchTokens(decode_tokens, info.vocab_size);
  // Untimed warm-up, which pages in the weights and starts the worker threads, and measures
  // the time to a first token: the prompt (or, with -p 0, one token) evaluated and the greedy
  // token picked, counted from the open.
  const std::vector<int32_t> first_input =
      prompt.empty() ? std::vector<int32_t>(steps.begin(), steps.begin() + 1) : prompt;
  if (!succeeded(command, tern_session_eval(session.get(), first_input.data(),
                                            first_input.size()),
                 "warm-up failed"))
    return kExitFailure;
  volatile int32_t first_token = argmax(tern_session_logits(session.get()), info.vocab_size);
  (void)first_token;
  const double first_token_seconds = secondsSince(open_start);

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

  // After every run, profiled ones included: the peak covers load, prefill and decode.
  uint64_t peak_rss = 0;
  const bool has_peak_rss = peakResidentBytes(&peak_rss);

  if (json) {
    nlohmann::ordered_json result;
    result["model"] = path;
    result["target_cpu"] = info.target_cpu ? info.target_cpu : "";
    result["device"] = info.device ? info.device : "";
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
    // Startup and memory (docs/runtime.md): what the process may hold resident while decoding
    // is about weights_bytes + kv_cache_bytes + arena_bytes + the tokenizer.
    result["context_length"] = session_info.context_length;
    result["load_seconds"] = load_seconds;
    result["first_token_seconds"] = first_token_seconds;
    result["weights_bytes"] = info.weight_bytes;
    result["kv_cache_bytes"] = session_info.kv_cache_bytes;
    result["arena_bytes"] = session_info.arena_bytes;
    // GPU memory: the weights and one full-context session (0 on the cpu).
    result["device_memory_bytes"] = info.device_memory_bytes;
    if (has_peak_rss)
      result["peak_rss_bytes"] = peak_rss;
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
  std::printf("model: %s (%s, target %s, device %s, %d threads, %s kernels, %.1f MiB of "
              "weights)\n",
              path.c_str(), info.architecture ? info.architecture : "?",
              info.target_cpu && *info.target_cpu ? info.target_cpu : "?",
              info.device ? info.device : "?", static_cast<int>(info.num_threads),
              model_flags.kernels.c_str(), info.weight_bytes / (1024.0 * 1024.0));
  constexpr double kMiB = 1024.0 * 1024.0;
  std::printf("startup: load %.3f s, first token %.3f s; memory: KV cache %.1f MiB (%" PRId64
              " positions), arena %.1f MiB",
              load_seconds, first_token_seconds, session_info.kv_cache_bytes / kMiB,
              session_info.context_length, session_info.arena_bytes / kMiB);
  if (has_peak_rss)
    std::printf(", peak RSS %.1f MiB", peak_rss / kMiB);
  if (info.device_memory_bytes > 0)
    std::printf(", device %.1f MiB", info.device_memory_bytes / kMiB);
  std::printf("\n");
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
