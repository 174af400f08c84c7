// The scripted model and session behind GenerateTest: the C API subset generation calls.
#include "FakeSession.h"

#include <cstdio>
#include <cstring>
#include <string>

struct tern_model_s {
  FakeModelSpec spec;
};

struct tern_session_s {
  tern_model_s model;
  std::vector<int32_t> tokens;
  std::vector<float> logits; // (vocab): those of the last evaluated token
  int eval_calls = 0;
};

tern_session_t* createFakeSession(const FakeModelSpec& spec) {
  auto* session = new tern_session_s;
  session->model.spec = spec;
  return session;
}

void releaseFakeSession(tern_session_t* session) { delete session; }

const std::vector<int32_t>& fakeSessionTokens(const tern_session_t* session) {
  return session->tokens;
}

int fakeSessionEvalCalls(const tern_session_t* session) { return session->eval_calls; }

extern "C" tern_model_t* tern_session_model(const tern_session_t* session) {
  return const_cast<tern_model_s*>(&session->model);
}

extern "C" tern_status_t tern_session_eval(tern_session_t* session, const int32_t* tokens,
                                           size_t count) {
  ++session->eval_calls;
  const FakeModelSpec& spec = session->model.spec;
  const int64_t vocab = static_cast<int64_t>(spec.next.size());
  if (static_cast<int64_t>(session->tokens.size() + count) > spec.context_length)
    return tern_status_create(TERN_STATUS_OUT_OF_RANGE, "fake: tokens pass the context");
  for (size_t i = 0; i < count; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return tern_status_create(TERN_STATUS_INVALID_ARGUMENT, "fake: token outside vocabulary");
  if (count == 0)
    return nullptr;
  session->tokens.insert(session->tokens.end(), tokens, tokens + count);
  session->logits.assign(vocab, 0.0f);
  const int32_t predicted = spec.next[tokens[count - 1]];
  session->logits[(predicted + 1) % vocab] = 0.5f;
  session->logits[predicted] = 1.0f;
  return nullptr;
}

extern "C" const float* tern_session_logits(const tern_session_t* session) {
  return session->logits.empty() ? nullptr : session->logits.data();
}

extern "C" int tern_model_is_end_of_generation(const tern_model_t* model, int32_t token) {
  return token == model->spec.end_of_generation;
}

extern "C" tern_status_t tern_model_token_to_piece(const tern_model_t* model, int32_t token,
                                                   char* buffer, size_t capacity,
                                                   size_t* out_length) {
  if (token < 0 || token >= static_cast<int32_t>(model->spec.next.size()))
    return tern_status_create(TERN_STATUS_OUT_OF_RANGE, "fake: token outside vocabulary");
  std::string piece = "<" + std::to_string(token) + ">";
  if (piece.size() > capacity)
    return tern_status_create(TERN_STATUS_OUT_OF_RANGE, "fake: buffer too small");
  std::memcpy(buffer, piece.data(), piece.size());
  *out_length = piece.size();
  return nullptr;
}
