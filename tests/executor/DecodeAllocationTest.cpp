// Evaluation allocates nothing: malloc and friends are counted (interposed in this executable)
// around prefill chunks and decode steps, on the tiny artifact and, with ternc, stories260K.
#include "TestArtifact.h"

#ifdef TERNC_PATH
#include "../cli/CliProcess.h"
#endif
#include "tern/tern.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

// AllocationCounter.c: malloc, calloc, realloc and the aligned allocators, counted.
extern "C" {
void tern_test_count_allocations(int on);
uint64_t tern_test_allocations(void);
}

namespace tern::test {
namespace {

struct Status {
  tern_status_t status = nullptr;
  ~Status() { tern_status_free(status); }
  std::string message() const { return tern_status_message(status); }
};

// Allocations made while evaluating |prompt| (in chunks) and then |steps| decode steps on
// |model|, after one untimed round that may initialise lazily (thread-pool wake-up, etc.).
uint64_t allocationsWhileEvaluating(tern_model_t *model, const std::vector<int32_t> &prompt,
                                    size_t steps) {
  tern_session_t *session = nullptr;
  Status create{tern_session_create(model, nullptr, &session)};
  EXPECT_EQ(create.status, nullptr) << create.message();
  if (!session)
    return ~uint64_t(0);
  auto evaluate = [&] {
    tern_session_reset(session);
    Status eval{tern_session_eval(session, prompt.data(), prompt.size())};
    EXPECT_EQ(eval.status, nullptr) << eval.message();
    for (size_t i = 0; i < steps; ++i) {
      Status step{tern_session_eval(session, &prompt[i % prompt.size()], 1)};
      EXPECT_EQ(step.status, nullptr) << step.message();
    }
  };
  evaluate();
  tern_test_count_allocations(1);
  evaluate();
  tern_test_count_allocations(0);
  tern_session_release(session);
  return tern_test_allocations();
}

TEST(DecodeAllocation, CountingSeesAnAllocation) {
  tern_test_count_allocations(1);
  std::vector<int> *volatile vector = new std::vector<int>(100);
  tern_test_count_allocations(0);
  delete vector;
  EXPECT_GE(tern_test_allocations(), 2u);
}

TEST(DecodeAllocation, TinyModelEvaluatesWithoutAllocating) {
  TinyModel tiny;
  tiny.library = readBytes(TERN_TEST_TINY_KERNELS);
  tiny.withKVWrite = true;
  tiny.logitsOnlyDispatches = 2;
  TempFile file;
  file.write(tiny.bytes());
  tern_model_options_t options;
  tern_model_options_init(&options);
  options.num_threads = 2;
  tern_model_t *model = nullptr;
  Status open{tern_model_open(file.path().c_str(), &options, &model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  // 6 tokens (chunks of 4 and 2), then 2 decode steps: the whole context of 8.
  EXPECT_EQ(allocationsWhileEvaluating(model, {3, 15, 0, 7, 7, 12}, 2), 0u);
  tern_model_release(model);
}

#ifdef TERNC_PATH
TEST(DecodeAllocation, StoriesEvaluatesWithoutAllocating) {
  const std::string directory =
      ::testing::TempDir() + "/tern_allocation_" + std::to_string(getpid());
  mkdir(directory.c_str(), 0755);
  const std::string path = directory + "/stories260K.tern";
  ProcessResult compile = runProcess(TERNC_PATH, {"compile", TERN_STORIES_GGUF, "-o", path});
  ASSERT_EQ(compile.exit_code, 0) << compile.err;
  tern_model_options_t options;
  tern_model_options_init(&options);
  options.num_threads = 2;
  tern_model_t *model = nullptr;
  Status open{tern_model_open(path.c_str(), &options, &model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  tern_model_info_t info;
  tern_model_info(model, &info);
  std::vector<int32_t> prompt(size_t(info.max_batch_rows + 5));
  for (size_t i = 0; i < prompt.size(); ++i)
    prompt[i] = int32_t(1 + (i * 37) % 500);
  EXPECT_EQ(allocationsWhileEvaluating(model, prompt, 16), 0u);
  tern_model_release(model);

  // The counter does see the executor's allocations: the reference twins (not the decode
  // path) keep scratch in vectors, attention's scores for one.
  options.kernels = TERN_KERNELS_REFERENCE;
  Status openReference{tern_model_open(path.c_str(), &options, &model)};
  ASSERT_EQ(openReference.status, nullptr) << openReference.message();
  EXPECT_GT(allocationsWhileEvaluating(model, prompt, 2), 0u);
  tern_model_release(model);
  std::remove(path.c_str());
  rmdir(directory.c_str());
}
#endif

} // namespace
} // namespace tern::test
