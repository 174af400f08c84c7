// A scripted stand-in for the executor's model and session, so generation is tested on its own.
#ifndef TERN_TESTS_SAMPLING_FAKESESSION_H
#define TERN_TESTS_SAMPLING_FAKESESSION_H

#include "tern/tern.h"

#include <vector>

// The fake model predicts next[t] after token t (logit 1), then (next[t] + 1) % vocab (logit
// 0.5), every other token 0; pieces are "<t>" and token |end_of_generation| ends generation.
struct FakeModelSpec {
  std::vector<int32_t> next;
  int32_t end_of_generation = -1;
  int64_t context_length = 64;
};

tern_session_t* createFakeSession(const FakeModelSpec& spec);
void releaseFakeSession(tern_session_t* session);
// Every token the fake session evaluated, in order (its "KV cache").
const std::vector<int32_t>& fakeSessionTokens(const tern_session_t* session);
// How many tern_session_eval calls the session received.
int fakeSessionEvalCalls(const tern_session_t* session);

#endif // TERN_TESTS_SAMPLING_FAKESESSION_H
