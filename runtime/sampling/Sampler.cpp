// tern_sampler_*: repetition penalty, greedy argmax or top-k / top-p / min-p and a seeded draw.
#include "Random.h"
#include "tern/tern.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <new>

namespace {

// The penalty window is a ring buffer allocated at creation; this bound keeps a typo such as
// `--repeat-last-n 1000000000` from reserving gigabytes (no context is anywhere near it).
constexpr int32_t kMaxRepeatLastN = 1 << 20;

// One vocabulary entry while filtering. |weight| is exp((logit - max) / temperature), so the
// most likely kept token has weight 1 and p_i / p_max is the weight itself.
struct Candidate {
  float logit;
  int32_t id;
  double weight;
};

// Descending logit, then ascending id: a strict total order, so std::sort and std::partial_sort
// give the same sequence with every standard library.
bool byLogitDescending(const Candidate& a, const Candidate& b) {
  if (a.logit != b.logit)
    return a.logit > b.logit;
  return a.id < b.id;
}

tern_status_t makeStatus(tern_status_code_t code, const char* format, ...)
    __attribute__((format(printf, 2, 3)));

tern_status_t makeStatus(tern_status_code_t code, const char* format, ...) {
  char message[256];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  return tern_status_create(code, message);
}

tern_status_t validateOptions(const tern_sampler_options_t& options, int64_t vocab_size) {
  if (vocab_size < 1 || vocab_size > std::numeric_limits<int32_t>::max())
    return makeStatus(TERN_STATUS_INVALID_ARGUMENT,
                      "sampler vocab_size is %lld; expected a value in [1, 2147483647]",
                      static_cast<long long>(vocab_size));
  // Negated comparisons so that NaN fails every check.
  if (!(options.temperature >= 0.0f) || std::isinf(options.temperature))
    return makeStatus(TERN_STATUS_INVALID_ARGUMENT,
                      "sampler option temperature is %g; expected a finite value >= 0 (0 = greedy)",
                      static_cast<double>(options.temperature));
  if (options.top_k < 0)
    return makeStatus(TERN_STATUS_INVALID_ARGUMENT,
                      "sampler option top_k is %d; expected a value >= 0 (0 = off)",
                      static_cast<int>(options.top_k));
  if (!(options.top_p > 0.0f && options.top_p <= 1.0f))
    return makeStatus(TERN_STATUS_INVALID_ARGUMENT,
                      "sampler option top_p is %g; expected a value in (0, 1] (1 = off)",
                      static_cast<double>(options.top_p));
  if (!(options.min_p >= 0.0f && options.min_p < 1.0f))
    return makeStatus(TERN_STATUS_INVALID_ARGUMENT,
                      "sampler option min_p is %g; expected a value in [0, 1) (0 = off)",
                      static_cast<double>(options.min_p));
  if (!(options.repeat_penalty > 0.0f) || std::isinf(options.repeat_penalty))
    return makeStatus(TERN_STATUS_INVALID_ARGUMENT,
                      "sampler option repeat_penalty is %g; expected a finite value > 0 (1 = off)",
                      static_cast<double>(options.repeat_penalty));
  if (options.repeat_last_n < 0 || options.repeat_last_n > kMaxRepeatLastN)
    return makeStatus(TERN_STATUS_INVALID_ARGUMENT,
                      "sampler option repeat_last_n is %d; expected a value in [0, %d]",
                      static_cast<int>(options.repeat_last_n), kMaxRepeatLastN);
  return nullptr;
}

} // namespace

struct tern_sampler_s {
  tern_sampler_options_t options;
  int32_t vocab_size;
  std::unique_ptr<Candidate[]> candidates; // (vocab_size)
  std::unique_ptr<uint8_t[]> penalized;    // (vocab_size): marks a token already penalised
  std::unique_ptr<int32_t[]> history;      // (repeat_last_n): ring of the last accepted tokens
  int32_t history_count = 0;               // valid entries, at most repeat_last_n
  int32_t history_next = 0;                // where the next accepted token goes
  tern::Random random;

  tern_sampler_s(const tern_sampler_options_t& options, int32_t vocab_size)
      : options(options), vocab_size(vocab_size), random(options.seed) {}

  bool penaltyEnabled() const {
    return options.repeat_penalty != 1.0f && options.repeat_last_n > 0;
  }

  // llama.cpp's repetition penalty: each distinct token of the window once, positive logits
  // divided by the penalty and the others multiplied, so a penalty > 1 always lowers them.
  void applyRepetitionPenalty() {
    if (!penaltyEnabled())
      return;
    const float penalty = options.repeat_penalty;
    for (int32_t i = 0; i < history_count; ++i) {
      int32_t id = history[i];
      if (id < 0 || id >= vocab_size || penalized[id])
        continue;
      penalized[id] = 1;
      float& logit = candidates[id].logit; // candidates are still in id order here
      logit = logit <= 0.0f ? logit * penalty : logit / penalty;
    }
    for (int32_t i = 0; i < history_count; ++i)
      if (history[i] >= 0 && history[i] < vocab_size)
        penalized[history[i]] = 0;
  }

  int32_t argmax() const {
    int32_t best = 0;
    for (int32_t i = 1; i < vocab_size; ++i)
      if (candidates[i].logit > candidates[best].logit) // strict: lowest id wins ties
        best = i;
    return best;
  }

  tern_status_t sample(const float* logits, int32_t* out_token);
};

tern_status_t tern_sampler_s::sample(const float* logits, int32_t* out_token) {
  for (int32_t i = 0; i < vocab_size; ++i) {
    float logit = logits[i];
    // -inf is how callers mask a token out; NaN and +inf would poison the softmax and the sort.
    if (std::isnan(logit) || logit == std::numeric_limits<float>::infinity())
      return makeStatus(TERN_STATUS_INVALID_ARGUMENT,
                        "logits[%d] is %g; expected a finite value or -inf", static_cast<int>(i),
                        static_cast<double>(logit));
    candidates[i] = Candidate{logit, i, 0.0};
  }
  applyRepetitionPenalty();

  if (options.temperature == 0.0f) {
    *out_token = argmax();
    return nullptr;
  }

  Candidate* begin = candidates.get();
  int32_t size = vocab_size;
  bool sorted = false;
  if (options.top_k > 0 && options.top_k < size) {
    std::partial_sort(begin, begin + options.top_k, begin + size, byLogitDescending);
    size = options.top_k;
    sorted = true;
  }

  float max_logit = -std::numeric_limits<float>::infinity();
  for (int32_t i = 0; i < size; ++i)
    max_logit = std::max(max_logit, begin[i].logit);
  if (max_logit == -std::numeric_limits<float>::infinity())
    return makeStatus(TERN_STATUS_INVALID_ARGUMENT,
                      "every logit is -inf; there is no token to sample");

  const double inverse_temperature = 1.0 / static_cast<double>(options.temperature);
  double total = 0.0;
  for (int32_t i = 0; i < size; ++i) {
    double weight = std::exp((static_cast<double>(begin[i].logit) - max_logit) *
                             inverse_temperature);
    begin[i].weight = weight;
    total += weight;
  }

  if (options.top_p < 1.0f) {
    if (!sorted) {
      std::sort(begin, begin + size, byLogitDescending);
      sorted = true;
    }
    // The smallest prefix whose mass reaches top_p; the first token alone always qualifies.
    const double needed = static_cast<double>(options.top_p) * total;
    double mass = 0.0;
    for (int32_t i = 0; i < size; ++i) {
      mass += begin[i].weight;
      if (mass >= needed) {
        size = i + 1;
        break;
      }
    }
  }

  if (options.min_p > 0.0f) {
    // Weights are relative to the most likely token, so p_i < min_p * p_max is weight < min_p;
    // that token has weight 1 > min_p and always stays. Compaction keeps the current order.
    const double floor = options.min_p;
    int32_t kept = 0;
    for (int32_t i = 0; i < size; ++i)
      if (begin[i].weight >= floor)
        begin[kept++] = begin[i];
    size = kept;
  }

  total = 0.0;
  for (int32_t i = 0; i < size; ++i)
    total += begin[i].weight;

  const double target = random.nextUnit() * total;
  double mass = 0.0;
  for (int32_t i = 0; i < size; ++i) {
    mass += begin[i].weight;
    if (target < mass) {
      *out_token = begin[i].id;
      return nullptr;
    }
  }
  // Rounding can leave target == mass after the last addition; the last candidate owns it.
  *out_token = begin[size - 1].id;
  return nullptr;
}

extern "C" void tern_sampler_options_init(tern_sampler_options_t* options) {
  if (!options)
    return;
  options->temperature = 0.0f;
  options->top_k = 0;
  options->top_p = 1.0f;
  options->min_p = 0.0f;
  options->repeat_penalty = 1.0f;
  options->repeat_last_n = 64;
  options->seed = 0;
}

extern "C" tern_status_t tern_sampler_create(const tern_sampler_options_t* options,
                                             int64_t vocab_size, tern_sampler_t** out_sampler) {
  if (!out_sampler)
    return tern_status_create(TERN_STATUS_INVALID_ARGUMENT,
                              "tern_sampler_create: out_sampler is NULL");
  *out_sampler = nullptr;
  tern_sampler_options_t defaults;
  tern_sampler_options_init(&defaults);
  if (!options)
    options = &defaults;
  if (tern_status_t status = validateOptions(*options, vocab_size))
    return status;

  const int32_t vocab = static_cast<int32_t>(vocab_size);
  std::unique_ptr<tern_sampler_s> sampler(new (std::nothrow) tern_sampler_s(*options, vocab));
  if (!sampler)
    return tern_status_create(TERN_STATUS_RESOURCE_EXHAUSTED, "out of memory creating a sampler");
  sampler->candidates.reset(new (std::nothrow) Candidate[vocab]);
  sampler->penalized.reset(new (std::nothrow) uint8_t[vocab]());
  if (options->repeat_last_n > 0)
    sampler->history.reset(new (std::nothrow) int32_t[options->repeat_last_n]);
  if (!sampler->candidates || !sampler->penalized ||
      (options->repeat_last_n > 0 && !sampler->history))
    return makeStatus(TERN_STATUS_RESOURCE_EXHAUSTED,
                      "out of memory allocating sampler buffers for a vocabulary of %d", vocab);
  *out_sampler = sampler.release();
  return nullptr;
}

extern "C" void tern_sampler_release(tern_sampler_t* sampler) { delete sampler; }

extern "C" tern_status_t tern_sampler_sample(tern_sampler_t* sampler, const float* logits,
                                             int32_t* out_token) {
  if (!sampler || !logits || !out_token)
    return tern_status_create(TERN_STATUS_INVALID_ARGUMENT,
                              "tern_sampler_sample: sampler, logits and out_token must be non-NULL");
  return sampler->sample(logits, out_token);
}

extern "C" void tern_sampler_accept(tern_sampler_t* sampler, int32_t token) {
  if (!sampler || sampler->options.repeat_last_n == 0)
    return;
  const int32_t capacity = sampler->options.repeat_last_n;
  sampler->history[sampler->history_next] = token;
  sampler->history_next = (sampler->history_next + 1) % capacity;
  sampler->history_count = std::min(sampler->history_count + 1, capacity);
}
