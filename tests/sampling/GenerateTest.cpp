// Tests of tern_session_generate over a scripted session: stops, streaming, continuation.
#include "FakeSession.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

struct Stream {
  std::vector<int32_t> tokens;
  std::string text;
  int stop_after = -1; // ask to stop after this many tokens; -1 = never
};

int collect(void* user_data, int32_t token, const char* piece, size_t length) {
  auto* stream = static_cast<Stream*>(user_data);
  stream->tokens.push_back(token);
  stream->text.append(piece, length);
  return static_cast<int>(stream->tokens.size()) == stream->stop_after;
}

struct SessionDeleter {
  void operator()(tern_session_t* session) const { releaseFakeSession(session); }
};
struct SamplerDeleter {
  void operator()(tern_sampler_t* sampler) const { tern_sampler_release(sampler); }
};

class Generate : public ::testing::Test {
protected:
  // 0 -> 1 -> 2 -> 3 -> 4 -> 1 ...; token 5 is end of generation; 6 leads to it.
  void open(int64_t context_length = 64, float repeat_penalty = 1.0f) {
    FakeModelSpec spec;
    spec.next = {1, 2, 3, 4, 1, 0, 5};
    spec.end_of_generation = 5;
    spec.context_length = context_length;
    session.reset(createFakeSession(spec));
    tern_sampler_options_t options;
    tern_sampler_options_init(&options);
    options.repeat_penalty = repeat_penalty;
    tern_sampler_t* raw = nullptr;
    tern_status_t status = tern_sampler_create(&options, 7, &raw);
    ASSERT_TRUE(tern_status_ok(status)) << tern_status_message(status);
    sampler.reset(raw);
  }

  tern_status_code_t generate(const std::vector<int32_t>& prompt, int32_t max_tokens,
                              Stream* stream, int32_t* generated) {
    tern_status_t status =
        tern_session_generate(session.get(), sampler.get(), prompt.data(), prompt.size(),
                              max_tokens, stream ? collect : nullptr, stream, generated);
    tern_status_code_t code = tern_status_code(status);
    last_message = tern_status_message(status);
    tern_status_free(status);
    return code;
  }

  std::unique_ptr<tern_session_t, SessionDeleter> session;
  std::unique_ptr<tern_sampler_t, SamplerDeleter> sampler;
  std::string last_message;
};

TEST_F(Generate, StreamsGreedyTokensUpToMaxTokens) {
  open();
  Stream stream;
  int32_t generated = -1;
  ASSERT_EQ(generate({0}, 6, &stream, &generated), TERN_STATUS_OK) << last_message;
  EXPECT_EQ(generated, 6);
  EXPECT_EQ(stream.tokens, (std::vector<int32_t>{1, 2, 3, 4, 1, 2}));
  EXPECT_EQ(stream.text, "<1><2><3><4><1><2>");
  // The prompt in one call, then every generated token, the last one included.
  EXPECT_EQ(fakeSessionTokens(session.get()), (std::vector<int32_t>{0, 1, 2, 3, 4, 1, 2}));
  EXPECT_EQ(fakeSessionEvalCalls(session.get()), 7);
}

TEST_F(Generate, StopsAtEndOfGenerationWithoutPassingIt) {
  open();
  Stream stream;
  int32_t generated = -1;
  ASSERT_EQ(generate({3, 6}, 10, &stream, &generated), TERN_STATUS_OK) << last_message;
  EXPECT_EQ(generated, 0);
  EXPECT_TRUE(stream.tokens.empty());
  EXPECT_EQ(fakeSessionTokens(session.get()), (std::vector<int32_t>{3, 6}));
}

TEST_F(Generate, StopsWhenTheCallbackAsks) {
  open();
  Stream stream;
  stream.stop_after = 2;
  int32_t generated = -1;
  ASSERT_EQ(generate({0}, 10, &stream, &generated), TERN_STATUS_OK) << last_message;
  EXPECT_EQ(generated, 2);
  EXPECT_EQ(stream.tokens, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(fakeSessionTokens(session.get()), (std::vector<int32_t>{0, 1, 2}));
}

TEST_F(Generate, StopsQuietlyAtTheContextEnd) {
  open(/*context_length=*/4);
  Stream stream;
  int32_t generated = -1;
  ASSERT_EQ(generate({0, 1}, 10, &stream, &generated), TERN_STATUS_OK) << last_message;
  // Positions 2 and 3 hold tokens 2 and 3; token 4 is sampled and streamed but cannot be stored.
  EXPECT_EQ(stream.tokens, (std::vector<int32_t>{2, 3, 4}));
  EXPECT_EQ(generated, 3);
  EXPECT_EQ(fakeSessionTokens(session.get()), (std::vector<int32_t>{0, 1, 2, 3}));
}

TEST_F(Generate, PromptLongerThanTheContextIsOutOfRange) {
  open(/*context_length=*/2);
  Stream stream;
  int32_t generated = -1;
  EXPECT_EQ(generate({0, 1, 2}, 10, &stream, &generated), TERN_STATUS_OUT_OF_RANGE);
  EXPECT_EQ(generated, 0);
  EXPECT_TRUE(stream.tokens.empty());
  EXPECT_TRUE(fakeSessionTokens(session.get()).empty());
}

TEST_F(Generate, EmptyPromptContinuesFromTheLastToken) {
  open();
  Stream first;
  ASSERT_EQ(generate({0}, 2, &first, nullptr), TERN_STATUS_OK) << last_message;
  Stream second;
  int32_t generated = -1;
  ASSERT_EQ(generate({}, 3, &second, &generated), TERN_STATUS_OK) << last_message;
  EXPECT_EQ(second.tokens, (std::vector<int32_t>{3, 4, 1}));
  EXPECT_EQ(fakeSessionTokens(session.get()), (std::vector<int32_t>{0, 1, 2, 3, 4, 1}));
}

TEST_F(Generate, EmptyPromptOnAFreshSessionIsAnError) {
  open();
  EXPECT_EQ(generate({}, 3, nullptr, nullptr), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(last_message.find("no logits"), std::string::npos) << last_message;
}

TEST_F(Generate, ZeroMaxTokensOnlyEvaluatesThePrompt) {
  open();
  int32_t generated = -1;
  ASSERT_EQ(generate({0, 1}, 0, nullptr, &generated), TERN_STATUS_OK);
  EXPECT_EQ(generated, 0);
  EXPECT_EQ(fakeSessionTokens(session.get()), (std::vector<int32_t>{0, 1}));
}

TEST_F(Generate, NegativeMaxTokensIsAnError) {
  open();
  EXPECT_EQ(generate({0}, -1, nullptr, nullptr), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(last_message.find("max_tokens"), std::string::npos);
}

TEST_F(Generate, WorksWithoutACallback) {
  open();
  int32_t generated = -1;
  ASSERT_EQ(generate({0}, 3, nullptr, &generated), TERN_STATUS_OK);
  EXPECT_EQ(generated, 3);
}

TEST_F(Generate, PromptTokensFeedTheRepetitionPenalty) {
  // After 0 the model prefers 1 (logit 1) over 2 (logit 0.5); 1 in the prompt and a penalty of
  // 4 make it 0.25, so 2 wins. Without 1 in the prompt, 1 wins.
  open(64, 4.0f);
  Stream penalised;
  ASSERT_EQ(generate({1, 0}, 1, &penalised, nullptr), TERN_STATUS_OK) << last_message;
  EXPECT_EQ(penalised.tokens, (std::vector<int32_t>{2}));
  open(64, 4.0f);
  Stream plain;
  ASSERT_EQ(generate({0}, 1, &plain, nullptr), TERN_STATUS_OK) << last_message;
  EXPECT_EQ(plain.tokens, (std::vector<int32_t>{1}));
}

TEST(GenerateArguments, NullSessionOrSamplerIsAnError) {
  tern_status_t status = tern_session_generate(nullptr, nullptr, nullptr, 0, 1, nullptr, nullptr,
                                               nullptr);
  EXPECT_EQ(tern_status_code(status), TERN_STATUS_INVALID_ARGUMENT);
  tern_status_free(status);
}

} // namespace
