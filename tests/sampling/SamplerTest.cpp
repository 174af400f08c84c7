// Unit tests of tern_sampler_*: option checks, greedy, filters, penalty, seeded draws.
#include "Random.h"
#include "tern/tern.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace {

struct SamplerDeleter {
  void operator()(tern_sampler_t* sampler) const { tern_sampler_release(sampler); }
};
using SamplerPtr = std::unique_ptr<tern_sampler_t, SamplerDeleter>;

tern_sampler_options_t greedyOptions() {
  tern_sampler_options_t options;
  tern_sampler_options_init(&options);
  return options;
}

SamplerPtr makeSampler(const tern_sampler_options_t& options, int64_t vocab) {
  tern_sampler_t* sampler = nullptr;
  tern_status_t status = tern_sampler_create(&options, vocab, &sampler);
  EXPECT_TRUE(tern_status_ok(status)) << tern_status_message(status);
  tern_status_free(status);
  return SamplerPtr(sampler);
}

int32_t sampleOnce(tern_sampler_t* sampler, const std::vector<float>& logits) {
  int32_t token = -1;
  tern_status_t status = tern_sampler_sample(sampler, logits.data(), &token);
  EXPECT_TRUE(tern_status_ok(status)) << tern_status_message(status);
  tern_status_free(status);
  return token;
}

// Logits whose softmax at temperature 1 is exactly |probabilities|.
std::vector<float> logitsOf(const std::vector<double>& probabilities) {
  std::vector<float> logits;
  for (double p : probabilities)
    logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

// Fraction of |draws| samples that picked each token, one sampler (so one random stream).
std::map<int32_t, double> frequencies(const tern_sampler_options_t& options,
                                      const std::vector<float>& logits, int draws) {
  SamplerPtr sampler = makeSampler(options, static_cast<int64_t>(logits.size()));
  std::map<int32_t, double> counts;
  for (int i = 0; i < draws; ++i)
    counts[sampleOnce(sampler.get(), logits)] += 1.0 / draws;
  return counts;
}

// With N draws a frequency's standard deviation is at most 0.5 / sqrt(N); 20000 draws and a
// tolerance of 0.015 is more than 4 standard deviations.
constexpr int kDraws = 20000;
constexpr double kTolerance = 0.015;

void expectCreateFails(const tern_sampler_options_t& options, int64_t vocab,
                       const std::string& field) {
  tern_sampler_t* sampler = nullptr;
  tern_status_t status = tern_sampler_create(&options, vocab, &sampler);
  ASSERT_FALSE(tern_status_ok(status)) << field;
  EXPECT_EQ(tern_status_code(status), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tern_status_message(status)).find(field), std::string::npos)
      << tern_status_message(status);
  EXPECT_EQ(sampler, nullptr);
  tern_status_free(status);
}

TEST(Sampler, DefaultsAreGreedy) {
  tern_sampler_options_t options = greedyOptions();
  EXPECT_EQ(options.temperature, 0.0f);
  EXPECT_EQ(options.top_k, 0);
  EXPECT_EQ(options.top_p, 1.0f);
  EXPECT_EQ(options.min_p, 0.0f);
  EXPECT_EQ(options.repeat_penalty, 1.0f);
  EXPECT_EQ(options.repeat_last_n, 64);
  EXPECT_EQ(options.seed, 0u);
}

TEST(Sampler, RejectsBadOptionsNamingTheField) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  tern_sampler_options_t options = greedyOptions();
  options.temperature = -0.1f;
  expectCreateFails(options, 8, "temperature");
  options = greedyOptions();
  options.temperature = nan;
  expectCreateFails(options, 8, "temperature");
  options = greedyOptions();
  options.top_k = -1;
  expectCreateFails(options, 8, "top_k");
  options = greedyOptions();
  options.top_p = 0.0f;
  expectCreateFails(options, 8, "top_p");
  options.top_p = 1.5f;
  expectCreateFails(options, 8, "(0, 1]");
  options = greedyOptions();
  options.min_p = 1.0f;
  expectCreateFails(options, 8, "min_p");
  options.min_p = -0.5f;
  expectCreateFails(options, 8, "[0, 1)");
  options = greedyOptions();
  options.repeat_penalty = 0.0f;
  expectCreateFails(options, 8, "repeat_penalty");
  options = greedyOptions();
  options.repeat_last_n = -1;
  expectCreateFails(options, 8, "repeat_last_n");
  expectCreateFails(greedyOptions(), 0, "vocab_size");
}

TEST(Sampler, NullArgumentsAreErrors) {
  tern_status_t status = tern_sampler_create(nullptr, 4, nullptr);
  EXPECT_EQ(tern_status_code(status), TERN_STATUS_INVALID_ARGUMENT);
  tern_status_free(status);
  SamplerPtr sampler = makeSampler(greedyOptions(), 4);
  status = tern_sampler_sample(sampler.get(), nullptr, nullptr);
  EXPECT_EQ(tern_status_code(status), TERN_STATUS_INVALID_ARGUMENT);
  tern_status_free(status);
  tern_sampler_release(nullptr);
  tern_sampler_accept(nullptr, 3);
}

TEST(Sampler, GreedyPicksTheLargestLogitAndTheLowestIdOnTies) {
  SamplerPtr sampler = makeSampler(greedyOptions(), 5);
  EXPECT_EQ(sampleOnce(sampler.get(), {0.1f, 3.0f, -2.0f, 2.9f, 1.0f}), 1);
  EXPECT_EQ(sampleOnce(sampler.get(), {0.1f, 3.0f, -2.0f, 3.0f, 3.0f}), 1);
  EXPECT_EQ(sampleOnce(sampler.get(), {-5.0f, -4.0f, -4.0f, -9.0f, -4.5f}), 1);
  const float minus_inf = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(sampleOnce(sampler.get(), {minus_inf, minus_inf, minus_inf, -1e30f, minus_inf}), 3);
}

TEST(Sampler, RejectsNaNAndPositiveInfinityNamingTheIndex) {
  SamplerPtr sampler = makeSampler(greedyOptions(), 3);
  std::vector<float> logits = {0.0f, std::numeric_limits<float>::quiet_NaN(), 1.0f};
  int32_t token = -1;
  tern_status_t status = tern_sampler_sample(sampler.get(), logits.data(), &token);
  EXPECT_EQ(tern_status_code(status), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tern_status_message(status)).find("logits[1]"), std::string::npos);
  tern_status_free(status);
  logits = {0.0f, 1.0f, std::numeric_limits<float>::infinity()};
  status = tern_sampler_sample(sampler.get(), logits.data(), &token);
  EXPECT_NE(std::string(tern_status_message(status)).find("logits[2]"), std::string::npos);
  tern_status_free(status);
}

TEST(Sampler, AllMaskedLogitsAreAnErrorWhenSampling) {
  tern_sampler_options_t options = greedyOptions();
  options.temperature = 1.0f;
  SamplerPtr sampler = makeSampler(options, 2);
  const float minus_inf = -std::numeric_limits<float>::infinity();
  std::vector<float> logits = {minus_inf, minus_inf};
  int32_t token = -1;
  tern_status_t status = tern_sampler_sample(sampler.get(), logits.data(), &token);
  EXPECT_EQ(tern_status_code(status), TERN_STATUS_INVALID_ARGUMENT);
  tern_status_free(status);
}

TEST(Sampler, TopKOneEqualsGreedy) {
  tern::Random random(42);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::vector<float> logits(97);
    for (float& logit : logits)
      logit = static_cast<float>(random.nextUnit() * 10.0 - 5.0);
    tern_sampler_options_t options = greedyOptions();
    options.temperature = 1.5f;
    options.top_k = 1;
    options.seed = seed;
    SamplerPtr sampled = makeSampler(options, 97);
    SamplerPtr greedy = makeSampler(greedyOptions(), 97);
    EXPECT_EQ(sampleOnce(sampled.get(), logits), sampleOnce(greedy.get(), logits));
  }
}

TEST(Sampler, TemperatureOneFollowsTheSoftmax) {
  tern_sampler_options_t options = greedyOptions();
  options.temperature = 1.0f;
  auto counts = frequencies(options, logitsOf({0.1, 0.2, 0.3, 0.4}), kDraws);
  EXPECT_NEAR(counts[0], 0.1, kTolerance);
  EXPECT_NEAR(counts[1], 0.2, kTolerance);
  EXPECT_NEAR(counts[2], 0.3, kTolerance);
  EXPECT_NEAR(counts[3], 0.4, kTolerance);
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  // Logits 0 and ln 2: weights 1 and 2 at T = 1; 1 and 4 at T = 0.5; 1 and sqrt(2) at T = 2.
  std::vector<float> logits = {0.0f, static_cast<float>(std::log(2.0))};
  tern_sampler_options_t options = greedyOptions();
  options.temperature = 0.5f;
  auto sharp = frequencies(options, logits, kDraws);
  EXPECT_NEAR(sharp[1], 0.8, kTolerance);
  options.temperature = 2.0f;
  auto flat = frequencies(options, logits, kDraws);
  EXPECT_NEAR(flat[1], std::sqrt(2.0) / (1.0 + std::sqrt(2.0)), kTolerance);
}

TEST(Sampler, TopKKeepsTheKMostLikelyAndRenormalises) {
  tern_sampler_options_t options = greedyOptions();
  options.temperature = 1.0f;
  options.top_k = 2;
  auto counts = frequencies(options, logitsOf({0.3, 0.5, 0.2}), kDraws);
  EXPECT_EQ(counts.count(2), 0u);
  EXPECT_NEAR(counts[1], 0.5 / 0.8, kTolerance);
  EXPECT_NEAR(counts[0], 0.3 / 0.8, kTolerance);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingTheMass) {
  // Sorted masses 0.5, 0.8, 0.95, 1.0 (ids 2, 0, 3, 1).
  std::vector<float> logits = logitsOf({0.3, 0.05, 0.5, 0.15});
  tern_sampler_options_t options = greedyOptions();
  options.temperature = 1.0f;

  options.top_p = 0.4f; // the first token alone reaches 0.4
  auto one = frequencies(options, logits, 2000);
  EXPECT_EQ(one.size(), 1u);
  EXPECT_NEAR(one[2], 1.0, 1e-9);

  options.top_p = 0.75f; // 0.5 < 0.75 <= 0.8
  auto two = frequencies(options, logits, kDraws);
  EXPECT_EQ(two.size(), 2u);
  EXPECT_NEAR(two[2], 0.5 / 0.8, kTolerance);
  EXPECT_NEAR(two[0], 0.3 / 0.8, kTolerance);

  options.top_p = 0.9f; // 0.8 < 0.9 <= 0.95
  auto three = frequencies(options, logits, kDraws);
  EXPECT_EQ(three.size(), 3u);
  EXPECT_EQ(three.count(1), 0u);
  EXPECT_NEAR(three[3], 0.15 / 0.95, kTolerance);
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheBest) {
  std::vector<float> logits = logitsOf({0.5, 0.3, 0.15, 0.05});
  tern_sampler_options_t options = greedyOptions();
  options.temperature = 1.0f;

  options.min_p = 0.2f; // floor 0.1: token 3 (0.05) goes
  auto three = frequencies(options, logits, kDraws);
  EXPECT_EQ(three.count(3), 0u);
  EXPECT_NEAR(three[0], 0.5 / 0.95, kTolerance);
  EXPECT_NEAR(three[2], 0.15 / 0.95, kTolerance);

  options.min_p = 0.5f; // floor 0.25: tokens 2 and 3 go
  auto two = frequencies(options, logits, kDraws);
  EXPECT_EQ(two.size(), 2u);
  EXPECT_NEAR(two[1], 0.3 / 0.8, kTolerance);

  options.min_p = 0.99f; // only the best survives
  auto one = frequencies(options, logits, 2000);
  EXPECT_EQ(one.size(), 1u);
  EXPECT_NEAR(one[0], 1.0, 1e-9);
}

TEST(Sampler, FiltersCompose) {
  // top_k 3 keeps 0.4, 0.3, 0.2 (mass 0.9); top_p 0.7 of that needs 0.63: 0.4 + 0.3 = 0.7.
  std::vector<float> logits = logitsOf({0.2, 0.1, 0.3, 0.4});
  tern_sampler_options_t options = greedyOptions();
  options.temperature = 1.0f;
  options.top_k = 3;
  options.top_p = 0.7f;
  auto counts = frequencies(options, logits, kDraws);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_NEAR(counts[3], 0.4 / 0.7, kTolerance);
  EXPECT_NEAR(counts[2], 0.3 / 0.7, kTolerance);
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  tern_sampler_options_t options = greedyOptions();
  options.repeat_penalty = 1.5f;
  options.repeat_last_n = 4;
  SamplerPtr sampler = makeSampler(options, 4);
  std::vector<float> positive = {2.0f, 1.9f, -1.0f, -1.1f};
  EXPECT_EQ(sampleOnce(sampler.get(), positive), 0);
  tern_sampler_accept(sampler.get(), 0); // 2.0 / 1.5 = 1.33 < 1.9
  EXPECT_EQ(sampleOnce(sampler.get(), positive), 1);

  SamplerPtr negative_sampler = makeSampler(options, 2);
  std::vector<float> negative = {-1.0f, -1.2f};
  tern_sampler_accept(negative_sampler.get(), 0); // -1.0 * 1.5 = -1.5 < -1.2
  EXPECT_EQ(sampleOnce(negative_sampler.get(), negative), 1);
  // The caller's logits are not modified.
  EXPECT_EQ(negative[0], -1.0f);
}

TEST(Sampler, RepetitionPenaltyCountsEachTokenOnce) {
  tern_sampler_options_t options = greedyOptions();
  options.repeat_penalty = 1.5f;
  SamplerPtr sampler = makeSampler(options, 2);
  for (int i = 0; i < 3; ++i)
    tern_sampler_accept(sampler.get(), 0);
  // Once: 2.0 / 1.5 = 1.33 > 1.2; applied per occurrence it would be 0.59.
  EXPECT_EQ(sampleOnce(sampler.get(), {2.0f, 1.2f}), 0);
}

TEST(Sampler, RepetitionPenaltyLooksOnlyAtTheLastNTokens) {
  tern_sampler_options_t options = greedyOptions();
  options.repeat_penalty = 2.0f;
  options.repeat_last_n = 2;
  SamplerPtr sampler = makeSampler(options, 8);
  std::vector<float> logits = {3.0f, 2.0f, 0, 0, 0, 0, 0, 0};
  tern_sampler_accept(sampler.get(), 0);
  EXPECT_EQ(sampleOnce(sampler.get(), logits), 1);
  tern_sampler_accept(sampler.get(), 5);
  EXPECT_EQ(sampleOnce(sampler.get(), logits), 1);
  tern_sampler_accept(sampler.get(), 6); // 0 leaves the window
  EXPECT_EQ(sampleOnce(sampler.get(), logits), 0);
  // Out-of-vocabulary ids in the history are ignored rather than trusted.
  tern_sampler_accept(sampler.get(), 100);
  tern_sampler_accept(sampler.get(), -3);
  EXPECT_EQ(sampleOnce(sampler.get(), logits), 0);
}

TEST(Sampler, PenaltyOfOneOrEmptyWindowChangesNothing) {
  tern_sampler_options_t options = greedyOptions();
  options.repeat_last_n = 0;
  options.repeat_penalty = 3.0f;
  SamplerPtr sampler = makeSampler(options, 2);
  tern_sampler_accept(sampler.get(), 0);
  EXPECT_EQ(sampleOnce(sampler.get(), {2.0f, 1.0f}), 0);
}

std::vector<int32_t> drawSequence(uint64_t seed, int count) {
  tern_sampler_options_t options = greedyOptions();
  options.temperature = 0.8f;
  options.top_k = 40;
  options.top_p = 0.95f;
  options.min_p = 0.02f;
  options.repeat_penalty = 1.1f;
  options.seed = seed;
  SamplerPtr sampler = makeSampler(options, 64);
  std::vector<float> logits(64);
  for (int i = 0; i < 64; ++i)
    logits[i] = static_cast<float>((i * 37) % 64) / 16.0f;
  std::vector<int32_t> tokens;
  for (int i = 0; i < count; ++i) {
    tokens.push_back(sampleOnce(sampler.get(), logits));
    tern_sampler_accept(sampler.get(), tokens.back());
  }
  return tokens;
}

TEST(Sampler, SameSeedGivesTheSameTokens) {
  EXPECT_EQ(drawSequence(7, 200), drawSequence(7, 200));
  EXPECT_NE(drawSequence(7, 200), drawSequence(8, 200));
}

TEST(Random, MatchesTheXoshiro256StarStarStreamSeededBySplitMix64) {
  // splitmix64 from 0 gives state e220a8397b1dcdaf 6e789e6aa1b965f4 06c45d188009454f
  // f88bb8a8724c81ec; xoshiro256** outputs rotl(s1 * 5, 7) * 9 first.
  tern::Random random(0);
  uint64_t s1 = 0x6e789e6aa1b965f4ULL * 5;
  uint64_t expected = ((s1 << 7) | (s1 >> 57)) * 9;
  EXPECT_EQ(random.next(), expected);
  // Units are exact multiples of 2^-53 in [0, 1).
  for (int i = 0; i < 1000; ++i) {
    double unit = random.nextUnit();
    ASSERT_GE(unit, 0.0);
    ASSERT_LT(unit, 1.0);
    EXPECT_EQ(std::ldexp(unit, 53), std::floor(std::ldexp(unit, 53)));
  }
}

} // namespace
