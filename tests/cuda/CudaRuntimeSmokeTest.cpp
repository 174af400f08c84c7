// The cuda device on a real GPU (skipped, saying why, where no NVIDIA driver loads): the tiny
// model's hand-written kernels (tiny_kernels.ptx) against hand-computed logits, and an sm_90
// artifact (TERN_TEST_CUDA_ARTIFACT) decoded greedily on cuda and with the reference twins on
// the CPU: identical tokens, logits within 2e-3 of the largest reference logit.
#include "../executor/CApiHandles.h"
#include "../executor/TestArtifact.h"

#include "tern/tern.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace tern::test {
namespace {

tern_status_t openModel(const std::string &path, tern_kernels_t kernels, tern_device_t device,
                        tern_model_t **out) {
  tern_model_options_t options;
  tern_model_options_init(&options);
  options.kernels = kernels;
  options.device = device;
  return tern_model_open(path.c_str(), &options, out);
}

// Whether |status| says that no driver loads (the one reason these tests skip).
bool noDriver(const Status &status) {
  return status.code() == TERN_STATUS_UNAVAILABLE &&
         status.message().find("needs the NVIDIA driver") != std::string::npos;
}

// Opens |path| on cuda into |m|; skips the calling test where no driver loads.
#define OPEN_ON_CUDA_OR_SKIP(path, m)                                                           \
  do {                                                                                          \
    Status open_{openModel(path, TERN_KERNELS_GENERATED, TERN_DEVICE_CUDA, &(m).model)};        \
    if (noDriver(open_))                                                                        \
      GTEST_SKIP() << "no NVIDIA driver: " << open_.message();                                  \
    ASSERT_EQ(open_.status, nullptr) << open_.message();                                        \
  } while (0)

void setGraphs(bool on) {
  if (on)
    unsetenv("TERN_CUDA_GRAPHS");
  else
    setenv("TERN_CUDA_GRAPHS", "0", 1);
}

// Logits of each of |tokens| evaluated one at a time on a new session of |model|.
std::vector<float> decodeOneByOne(tern_model_t *model, const std::vector<int32_t> &tokens,
                                  int64_t vocab) {
  Session s;
  Status create{tern_session_create(model, nullptr, &s.session)};
  EXPECT_EQ(create.status, nullptr) << create.message();
  std::vector<float> all;
  for (int32_t token : tokens) {
    if (!s.session)
      break;
    Status eval{tern_session_eval(s.session, &token, 1)};
    EXPECT_EQ(eval.status, nullptr) << eval.message();
    const float *logits = tern_session_logits(s.session);
    if (logits)
      all.insert(all.end(), logits, logits + vocab);
  }
  return all;
}

TEST(Smoke, TinyPtxModelMatchesHandComputedLogits) {
  TinyModel tiny;
  tiny.ptx = true;
  tiny.withKVWrite = true;
  tiny.library = readBytes(TERN_TEST_TINY_PTX);
  TempFile file;
  file.write(tiny.bytes());
  Model m;
  OPEN_ON_CUDA_OR_SKIP(file.path(), m);
  tern_model_info_t info;
  tern_model_info(m.model, &info);
  EXPECT_EQ(std::string(info.device).rfind("cuda:0 ", 0), 0u) << info.device;
  const std::vector<int32_t> prompt = {3, 15, 0, 7, 7, 12, 1};
  const std::vector<float> oneByOne = decodeOneByOne(m.model, prompt, TinyModel::kVocab);
  ASSERT_EQ(oneByOne.size(), prompt.size() * TinyModel::kVocab);
  for (size_t t = 0; t < prompt.size(); ++t) {
    const std::vector<double> expected = TinyModel::expectedLogits(prompt[t]);
    for (int64_t o = 0; o < TinyModel::kVocab; ++o)
      EXPECT_NEAR(oneByOne[t * TinyModel::kVocab + o], expected[o], 1e-5) << t << " " << o;
  }
  // Chunked prefill (last-row bindings moved to rows 3 and 2) and every row's logits.
  Session s;
  Status create{tern_session_create(m.model, nullptr, &s.session)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  std::vector<float> all(prompt.size() * TinyModel::kVocab);
  Status eval{tern_session_eval_all_logits(s.session, prompt.data(), prompt.size(), all.data())};
  ASSERT_EQ(eval.status, nullptr) << eval.message();
  EXPECT_EQ(all, oneByOne);
  tern_session_reset(s.session);
  Status prefill{tern_session_eval(s.session, prompt.data(), prompt.size())};
  ASSERT_EQ(prefill.status, nullptr) << prefill.message();
  EXPECT_EQ(std::vector<float>(tern_session_logits(s.session),
                               tern_session_logits(s.session) + TinyModel::kVocab),
            std::vector<float>(oneByOne.end() - TinyModel::kVocab, oneByOne.end()));
  // Without graphs: the same numbers.
  setGraphs(false);
  const std::vector<float> direct = decodeOneByOne(m.model, prompt, TinyModel::kVocab);
  setGraphs(true);
  EXPECT_EQ(direct, oneByOne);
}

// The prompt of the artifact tests: "Once upon a time" with BOS, or BOS alone (or token 1)
// for a model without a tokenizer.
std::vector<int32_t> promptTokens(tern_model_t *model) {
  std::vector<int32_t> tokens(64);
  size_t count = 0;
  const char *text = "Once upon a time";
  tern_status_t status = tern_model_tokenize(model, text, std::strlen(text), 1, 1,
                                             tokens.data(), tokens.size(), &count);
  const bool ok = status == nullptr && count > 0;
  tern_status_free(status);
  if (ok) {
    tokens.resize(count);
    return tokens;
  }
  const int32_t bos = tern_model_special_token(model, TERN_TOKEN_BOS);
  return {bos >= 0 ? bos : 1};
}

int32_t argmax(const float *logits, int64_t vocab) {
  return int32_t(std::max_element(logits, logits + vocab) - logits);
}

// Greedy decode of |steps| tokens after |prompt|: the tokens, and the logits after the prompt
// and after each step but the last (vocab floats each).
struct Greedy {
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> logits;
};

Greedy greedy(tern_model_t *model, const std::vector<int32_t> &prompt, int steps,
              int64_t vocab) {
  Greedy out;
  tern_session_options_t options;
  tern_session_options_init(&options);
  options.context_length = int64_t(prompt.size()) + steps + 1;
  Session s;
  Status create{tern_session_create(model, &options, &s.session)};
  EXPECT_EQ(create.status, nullptr) << create.message();
  if (!s.session)
    return out;
  Status eval{tern_session_eval(s.session, prompt.data(), prompt.size())};
  EXPECT_EQ(eval.status, nullptr) << eval.message();
  for (int step = 0; step < steps && eval.status == nullptr; ++step) {
    const float *logits = tern_session_logits(s.session);
    out.logits.emplace_back(logits, logits + vocab);
    int32_t next = argmax(logits, vocab);
    out.tokens.push_back(next);
    tern_status_free(eval.status);
    eval.status = tern_session_eval(s.session, &next, 1);
    EXPECT_EQ(eval.status, nullptr) << eval.message();
  }
  return out;
}

// max |a - b| over |a|, |b|, and max |b|.
std::pair<double, double> difference(const std::vector<float> &a, const std::vector<float> &b) {
  double most = 0, scale = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    most = std::max(most, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return {most, scale};
}

const char *artifactPath() { return std::getenv("TERN_TEST_CUDA_ARTIFACT"); }

#define ARTIFACT_OR_SKIP(path)                                                                  \
  const char *path = artifactPath();                                                            \
  if (!path || !*path)                                                                          \
  GTEST_SKIP() << "TERN_TEST_CUDA_ARTIFACT is not set (an artifact compiled with ternc compile " \
                  "--target=sm_90)"

TEST(Smoke, ArtifactGreedyDecodeMatchesTheReferenceTwins) {
  ARTIFACT_OR_SKIP(path);
  constexpr int kSteps = 16;
  Model gpu;
  OPEN_ON_CUDA_OR_SKIP(path, gpu);
  Model reference;
  Status open{openModel(path, TERN_KERNELS_REFERENCE, TERN_DEVICE_CPU, &reference.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  tern_model_info_t info;
  tern_model_info(gpu.model, &info);
  const std::vector<int32_t> prompt = promptTokens(gpu.model);

  const Greedy expected = greedy(reference.model, prompt, kSteps, info.vocab_size);
  const Greedy actual = greedy(gpu.model, prompt, kSteps, info.vocab_size);
  ASSERT_EQ(expected.tokens.size(), size_t(kSteps));
  ASSERT_EQ(actual.tokens.size(), size_t(kSteps));
  for (int step = 0; step < kSteps; ++step) {
    SCOPED_TRACE("step " + std::to_string(step) + " on " + info.device);
    const auto [most, scale] = difference(actual.logits[step], expected.logits[step]);
    EXPECT_LE(most, 2e-3 * scale) << "max |cuda - reference| " << most << ", max |reference| "
                                  << scale;
    ASSERT_EQ(actual.tokens[step], expected.tokens[step])
        << "cuda picks " << actual.tokens[step] << " (logit "
        << actual.logits[step][size_t(actual.tokens[step])] << "), the reference twins "
        << expected.tokens[step] << " (logit "
        << expected.logits[step][size_t(expected.tokens[step])] << ")";
  }
}

TEST(Smoke, ArtifactPrefillInChunksMatchesTheReferenceTwins) {
  ARTIFACT_OR_SKIP(path);
  Model gpu;
  OPEN_ON_CUDA_OR_SKIP(path, gpu);
  Model reference;
  Status open{openModel(path, TERN_KERNELS_REFERENCE, TERN_DEVICE_CPU, &reference.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  tern_model_info_t info;
  tern_model_info(gpu.model, &info);
  // Two chunks: a full one and a short one whose last row is not the chunk's first.
  std::vector<int32_t> prompt = promptTokens(gpu.model);
  const size_t length = size_t(info.max_batch_rows) + 3;
  for (size_t i = prompt.size(); i < length; ++i)
    prompt.push_back(int32_t((i * 7919 + 13) % size_t(info.vocab_size)));
  prompt.resize(length);
  for (bool allRows : {false, true}) {
    SCOPED_TRACE(allRows ? "every row's logits" : "the last row's logits");
    std::vector<std::vector<float>> results;
    for (tern_model_t *model : {reference.model, gpu.model}) {
      Session s;
      Status create{tern_session_create(model, nullptr, &s.session)};
      ASSERT_EQ(create.status, nullptr) << create.message();
      std::vector<float> logits;
      if (allRows) {
        logits.resize(prompt.size() * size_t(info.vocab_size));
        Status eval{tern_session_eval_all_logits(s.session, prompt.data(), prompt.size(),
                                                 logits.data())};
        ASSERT_EQ(eval.status, nullptr) << eval.message();
      } else {
        Status eval{tern_session_eval(s.session, prompt.data(), prompt.size())};
        ASSERT_EQ(eval.status, nullptr) << eval.message();
        logits.assign(tern_session_logits(s.session),
                      tern_session_logits(s.session) + info.vocab_size);
      }
      results.push_back(std::move(logits));
    }
    const size_t rows = results[0].size() / size_t(info.vocab_size);
    for (size_t r = 0; r < rows; ++r) {
      const std::vector<float> expected(results[0].begin() + r * info.vocab_size,
                                        results[0].begin() + (r + 1) * info.vocab_size);
      const std::vector<float> actual(results[1].begin() + r * info.vocab_size,
                                      results[1].begin() + (r + 1) * info.vocab_size);
      const auto [most, scale] = difference(actual, expected);
      EXPECT_LE(most, 2e-3 * scale) << "row " << r;
    }
  }
}

TEST(Smoke, ArtifactGraphsProfilingAndDirectLaunchesAgree) {
  ARTIFACT_OR_SKIP(path);
  Model gpu;
  OPEN_ON_CUDA_OR_SKIP(path, gpu);
  tern_model_info_t info;
  tern_model_info(gpu.model, &info);
  const std::vector<int32_t> prompt = promptTokens(gpu.model);
  const Greedy graphs = greedy(gpu.model, prompt, 8, info.vocab_size);
  setGraphs(false);
  const Greedy direct = greedy(gpu.model, prompt, 8, info.vocab_size);
  setGraphs(true);
  EXPECT_EQ(graphs.tokens, direct.tokens);
  EXPECT_EQ(graphs.logits, direct.logits); // the same launches, replayed or not

  Session s;
  Status create{tern_session_create(gpu.model, nullptr, &s.session)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  tern_session_profile_enable(s.session, 1);
  Status eval{tern_session_eval(s.session, prompt.data(), prompt.size())};
  ASSERT_EQ(eval.status, nullptr) << eval.message();
  // Profiled calls launch one by one, and give the same logits.
  for (size_t i = 0; i + 1 < graphs.tokens.size(); ++i) {
    Status step{tern_session_eval(s.session, &graphs.tokens[i], 1)};
    ASSERT_EQ(step.status, nullptr) << step.message();
  }
  EXPECT_EQ(std::vector<float>(tern_session_logits(s.session),
                               tern_session_logits(s.session) + info.vocab_size),
            graphs.logits.back());
  const size_t records = tern_session_profile_count(s.session);
  ASSERT_GT(records, 0u);
  double seconds = 0;
  for (size_t i = 0; i < records; ++i) {
    tern_profile_record_t r;
    Status read{tern_session_profile_record(s.session, i, &r, sizeof(r))};
    ASSERT_EQ(read.status, nullptr) << read.message();
    EXPECT_GT(r.calls, 0u) << r.symbol;
    seconds += r.seconds;
  }
  EXPECT_GT(seconds, 0.0);
}

} // namespace
} // namespace tern::test
