// Session profiles of a real compiled model (stories260K through ternc) checked against the
// artifact's own plan: every kernel listed, calls = dispatches x runs, bytes = bound sections.
#include "EntryPlan.h"

#include "../cli/CliProcess.h"
#include "tern/tern.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace tern::test {
namespace {

struct Status {
  tern_status_t status = nullptr;
  ~Status() { tern_status_free(status); }
  tern_status_code_t code() const { return tern_status_code(status); }
  std::string message() const { return tern_status_message(status); }
};

class ProfileOfStories : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    directory_ = ::testing::TempDir() + "/tern_profile_" + std::to_string(getpid());
    mkdir(directory_.c_str(), 0755);
    path_ = directory_ + "/stories260K.tern";
    compile_ = runProcess(TERNC_PATH, {"compile", TERN_STORIES_GGUF, "-o", path_});
  }
  static void TearDownTestSuite() {
    std::remove(path_.c_str());
    rmdir(directory_.c_str());
  }

  void SetUp() override {
    ASSERT_EQ(compile_.exit_code, 0) << "ternc compile failed:\n" << compile_.err;
    tern_status_t status = nullptr;
    artifact_ = Artifact::open(path_.c_str(), &status);
    ASSERT_NE(artifact_, nullptr) << tern_status_message(status);
    tern_model_options_t options;
    tern_model_options_init(&options);
    options.num_threads = 2; // slices on two threads: still one call per dispatch
    Status open{tern_model_open(path_.c_str(), &options, &model_)};
    ASSERT_EQ(open.status, nullptr) << open.message();
    Status create{tern_session_create(model_, nullptr, &session_)};
    ASSERT_EQ(create.status, nullptr) << create.message();
  }

  void TearDown() override {
    tern_session_release(session_);
    tern_model_release(model_);
  }

  // Evaluates |count| tokens in one call from the session's position.
  void eval(size_t count) {
    std::vector<int32_t> tokens(count);
    for (size_t i = 0; i < count; ++i)
      tokens[i] = int32_t(1 + i * 37 % 500); // any ids inside the 512-token vocabulary
    Status status{tern_session_eval(session_, tokens.data(), tokens.size())};
    ASSERT_EQ(status.status, nullptr) << status.message();
  }

  // The records of |entry| in the session's profile.
  std::vector<tern_profile_record_t> records(const std::string &entry) const {
    std::vector<tern_profile_record_t> found;
    for (size_t i = 0; i < tern_session_profile_count(session_); ++i) {
      tern_profile_record_t record;
      Status status{tern_session_profile_record(session_, i, &record, sizeof(record))};
      EXPECT_EQ(status.status, nullptr) << status.message();
      if (entry == record.entry_point)
        found.push_back(record);
    }
    return found;
  }

  // Checks the profile of |entry| after |runs| runs whose (pos + rows) sum to |positionsRead|,
  // of which |withLogits| computed logits (the others skip the logits-only dispatches).
  void expectMatchesPlan(const std::string &entry, uint64_t runs, uint64_t positionsRead,
                         uint64_t withLogits) {
    EntryPlan plan;
    ASSERT_TRUE(readEntryPlan(*artifact_, entry, &plan)) << "no entry point " << entry;
    const std::vector<tern_profile_record_t> found = records(entry);
    ASSERT_EQ(found.size(), plan.kernels.size());
    std::set<std::string> seen;
    uint64_t calls = 0;
    for (const tern_profile_record_t &record : found) {
      SCOPED_TRACE(entry + " " + record.symbol);
      ASSERT_EQ(plan.kernels.count(record.symbol), 1u);
      EXPECT_TRUE(seen.insert(record.symbol).second) << "listed twice";
      const PlannedKernel &kernel = plan.kernels.at(record.symbol);
      EXPECT_EQ(record.family, kernel.family);
      EXPECT_EQ(record.entry_runs, runs);
      EXPECT_EQ(record.calls, kernel.dispatches * runs - kernel.logitsOnly * (runs - withLogits));
      EXPECT_GT(record.seconds, 0.0);
      EXPECT_TRUE(kernel.uniformWeightBytes);
      EXPECT_EQ(record.weight_bytes_per_call, kernel.weightBytesPerCall);
      EXPECT_EQ(record.weight_bytes, kernel.weightBytesPerCall * record.calls);
      // Keys and values, F32, of every position up to each call's last row.
      const uint64_t kvBytesPerPosition = 2 * uint64_t(kernel.kvHeads * kernel.headDim) * 4;
      EXPECT_EQ(record.kv_cache_bytes, kernel.dispatches * kvBytesPerPosition * positionsRead);
      calls += record.calls;
    }
    EXPECT_EQ(calls, plan.dispatches * runs - plan.logitsOnly * (runs - withLogits));
  }

  static std::string directory_, path_;
  static ProcessResult compile_;
  std::unique_ptr<Artifact> artifact_;
  tern_model_t *model_ = nullptr;
  tern_session_t *session_ = nullptr;
};

std::string ProfileOfStories::directory_;
std::string ProfileOfStories::path_;
ProcessResult ProfileOfStories::compile_;

TEST_F(ProfileOfStories, DecodeListsEveryKernelWithItsCallsAndBoundBytes) {
  EntryPlan plan;
  ASSERT_TRUE(readEntryPlan(*artifact_, "decode", &plan));
  EXPECT_GT(plan.kernels.size(), 5u); // a real transformer, not a stub
  bool hasAttention = false;
  for (const auto &[symbol, kernel] : plan.kernels)
    hasAttention = hasAttention || kernel.family == "attention";
  EXPECT_TRUE(hasAttention);

  tern_session_profile_enable(session_, 1);
  constexpr uint64_t kSteps = 6;
  for (uint64_t step = 0; step < kSteps; ++step)
    eval(1);
  // Step s (position s) reads positions 0 .. s: 1 + 2 + ... + kSteps in all.
  expectMatchesPlan("decode", kSteps, kSteps * (kSteps + 1) / 2, kSteps);
  EXPECT_EQ(tern_session_profile_count(session_), plan.kernels.size()); // decode alone ran
}

TEST_F(ProfileOfStories, PrefillCountsOneRunPerChunk) {
  EntryPlan plan;
  ASSERT_TRUE(readEntryPlan(*artifact_, "prefill", &plan));
  tern_model_info_t info;
  tern_model_info(model_, &info);
  const int64_t tokens = std::min<int64_t>(plan.maxRows + 3, info.context_length);
  ASSERT_GT(tokens, plan.maxRows) << "the test needs two chunks";

  tern_session_profile_enable(session_, 1);
  eval(size_t(tokens));
  // Chunk 1: rows maxRows at 0; chunk 2: the rest at maxRows. Each reads pos + rows positions.
  // Only chunk 2's logits are kept.
  expectMatchesPlan("prefill", 2, uint64_t(plan.maxRows) + uint64_t(tokens), 1);
  EXPECT_TRUE(records("decode").empty());
}

TEST_F(ProfileOfStories, DisabledRecordsNothingAndResetClears) {
  eval(4);
  eval(1);
  EXPECT_EQ(tern_session_profile_count(session_), 0u);

  tern_session_profile_enable(session_, 1);
  eval(1);
  EntryPlan plan;
  ASSERT_TRUE(readEntryPlan(*artifact_, "decode", &plan));
  EXPECT_EQ(tern_session_profile_count(session_), plan.kernels.size());
  tern_session_profile_reset(session_);
  EXPECT_EQ(tern_session_profile_count(session_), 0u);
  EXPECT_TRUE(records("decode").empty());
}

// |count| token ids inside the 512-token vocabulary, different from the fixture's eval().
std::vector<int32_t> promptTokens(size_t count) {
  std::vector<int32_t> tokens(count);
  for (size_t i = 0; i < count; ++i)
    tokens[i] = int32_t(3 + (i * 101) % 509);
  return tokens;
}

std::vector<float> lastLogits(tern_session_t *session, const tern_model_info_t &info) {
  const float *logits = tern_session_logits(session);
  return logits ? std::vector<float>(logits, logits + info.vocab_size) : std::vector<float>{};
}

TEST_F(ProfileOfStories, PrefillRunsTheHeadOnlyForTheLastChunk) {
  EntryPlan plan;
  ASSERT_TRUE(readEntryPlan(*artifact_, "prefill", &plan));
  // The compiler marks the dispatches after the last layer's attention: that layer's output
  // projection and FFN, the final norm and lm_head.
  ASSERT_GT(plan.logitsOnly, 0u);
  std::string head; // the kernel of the entry's last dispatch: lm_head
  for (const auto &[symbol, kernel] : plan.kernels)
    if (kernel.logitsOnly == kernel.dispatches && kernel.weightBytesPerCall > 0 &&
        (kernel.family == "matmul" || kernel.family == "quantized_matmul"))
      head = symbol;
  ASSERT_FALSE(head.empty()) << "no lm_head among the logits-only dispatches";
  tern_model_info_t info;
  tern_model_info(model_, &info);
  const size_t count = size_t(2 * plan.maxRows + 5); // three chunks
  ASSERT_LE(int64_t(count), info.context_length);
  const std::vector<int32_t> tokens = promptTokens(count);

  tern_session_profile_enable(session_, 1);
  Status eval{tern_session_eval(session_, tokens.data(), tokens.size())};
  ASSERT_EQ(eval.status, nullptr) << eval.message();
  const std::vector<float> chunked = lastLogits(session_, info);
  expectMatchesPlan("prefill", 3, uint64_t(plan.maxRows) + uint64_t(2 * plan.maxRows) + count,
                    1);
  for (const tern_profile_record_t &record : records("prefill")) {
    if (record.symbol == head) {
      EXPECT_EQ(record.calls, 1u) << "lm_head runs once for a three-chunk prompt";
    }
  }

  // The same chunks as three calls, each of which needs (and computes) its logits: the last
  // call's logits are bit for bit those of the single call.
  tern_session_t *separate = nullptr;
  Status create{tern_session_create(model_, nullptr, &separate)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  for (size_t done = 0; done < count;) {
    const size_t rows = std::min<size_t>(size_t(plan.maxRows), count - done);
    Status chunk{tern_session_eval(separate, tokens.data() + done, rows)};
    ASSERT_EQ(chunk.status, nullptr) << chunk.message();
    done += rows;
  }
  EXPECT_EQ(lastLogits(separate, info), chunked);
  tern_session_release(separate);
}

TEST_F(ProfileOfStories, ShortSessionComputesWhatAFullOneDoes) {
  tern_model_info_t info;
  tern_model_info(model_, &info);
  EntryPlan plan;
  ASSERT_TRUE(readEntryPlan(*artifact_, "prefill", &plan));
  const int64_t context = plan.maxRows + 8;
  ASSERT_LT(context, info.context_length);
  tern_session_options_t options;
  tern_session_options_init(&options);
  options.context_length = context;
  tern_session_t *shorter = nullptr;
  Status create{tern_session_create(model_, &options, &shorter)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  tern_session_info_t full, part;
  tern_session_info(session_, &full);
  tern_session_info(shorter, &part);
  EXPECT_EQ(full.kv_cache_bytes, info.kv_cache_bytes);
  EXPECT_EQ(part.context_length, context);
  EXPECT_EQ(part.kv_cache_bytes * uint64_t(info.context_length),
            info.kv_cache_bytes * uint64_t(context));

  // A two-chunk prompt, then decode steps up to the short session's last position.
  const std::vector<int32_t> tokens = promptTokens(size_t(context));
  const size_t prompt = size_t(plan.maxRows + 3);
  for (tern_session_t *session : {session_, shorter}) {
    Status eval{tern_session_eval(session, tokens.data(), prompt)};
    ASSERT_EQ(eval.status, nullptr) << eval.message();
  }
  EXPECT_EQ(lastLogits(shorter, info), lastLogits(session_, info));
  for (size_t i = prompt; i < tokens.size(); ++i) {
    for (tern_session_t *session : {session_, shorter}) {
      Status step{tern_session_eval(session, &tokens[i], 1)};
      ASSERT_EQ(step.status, nullptr) << step.message();
    }
    EXPECT_EQ(lastLogits(shorter, info), lastLogits(session_, info)) << "position " << i;
  }
  Status past{tern_session_eval(shorter, tokens.data(), 1)};
  EXPECT_EQ(past.code(), TERN_STATUS_OUT_OF_RANGE);
  tern_session_release(shorter);
}

} // namespace
} // namespace tern::test
