// Evaluation on the cuda device allocates nothing on the host: malloc and friends are counted
// (interposed in this executable) around prefill chunks and decode steps, through the fake
// driver (FakeCudaDriver.c, which allocates nothing to launch or replay), with graphs and
// without.
#include "../executor/CApiHandles.h"
#include "../executor/TestArtifact.h"

#include "tern/tern.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

// AllocationCounter.c: malloc, calloc, realloc and the aligned allocators, counted.
extern "C" {
void tern_test_count_allocations(int on);
uint64_t tern_test_allocations(void);
}

namespace tern::test {
namespace {

TEST(CudaAllocation, TinyModelEvaluatesWithoutAllocating) {
  setenv("TERN_CUDA_DRIVER", TERN_TEST_FAKE_CUDA, 1);
  for (bool graphs : {true, false}) {
    SCOPED_TRACE(graphs ? "graphs" : "TERN_CUDA_GRAPHS=0");
    if (graphs)
      unsetenv("TERN_CUDA_GRAPHS");
    else
      setenv("TERN_CUDA_GRAPHS", "0", 1);
    TinyModel tiny;
    tiny.ptx = true;
    tiny.library = readBytes(TERN_TEST_TINY_PTX);
    tiny.withKVWrite = true;
    tiny.logitsOnlyDispatches = 2;
    TempFile file;
    file.write(tiny.bytes());
    tern_model_t *model = nullptr;
    Status open{tern_model_open(file.path().c_str(), nullptr, &model)};
    ASSERT_EQ(open.status, nullptr) << open.message();
    tern_session_t *session = nullptr;
    Status create{tern_session_create(model, nullptr, &session)};
    ASSERT_EQ(create.status, nullptr) << create.message();
    // 6 tokens (chunks of 4 and 2), then 2 decode steps: the whole context of 8; twice, the
    // second time counted.
    const std::vector<int32_t> prompt = {3, 15, 0, 7, 7, 12};
    std::vector<float> all(2 * TinyModel::kVocab);
    for (int round = 0; round < 2; ++round) {
      tern_test_count_allocations(round == 1);
      tern_session_reset(session);
      Status eval{tern_session_eval(session, prompt.data(), prompt.size())};
      EXPECT_EQ(eval.status, nullptr) << eval.message();
      Status step{tern_session_eval(session, &prompt[0], 1)};
      EXPECT_EQ(step.status, nullptr) << step.message();
      Status allRows{tern_session_eval_all_logits(session, &prompt[1], 1, all.data())};
      EXPECT_EQ(allRows.status, nullptr) << allRows.message();
      tern_test_count_allocations(0);
    }
    EXPECT_EQ(tern_test_allocations(), 0u);
    tern_session_release(session);
    tern_model_release(model);
  }
  unsetenv("TERN_CUDA_GRAPHS");
  unsetenv("TERN_CUDA_DRIVER");
}

} // namespace
} // namespace tern::test
