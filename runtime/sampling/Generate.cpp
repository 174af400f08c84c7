// tern_session_generate: evaluate a prompt, then sample, stream and evaluate one token at a time.
#include "tern/tern.h"

#include <cstdio>

namespace {

// Longest piece a token prints: SentencePiece and byte-level BPE pieces are a few dozen bytes,
// added tokens rarely more than a hundred; a longer one is reported, never truncated.
constexpr size_t kMaxPieceBytes = 1024;

} // namespace

extern "C" tern_status_t tern_session_generate(tern_session_t* session, tern_sampler_t* sampler,
                                               const int32_t* prompt, size_t prompt_count,
                                               int32_t max_tokens, tern_token_callback_t callback,
                                               void* user_data, int32_t* out_generated) {
  if (out_generated)
    *out_generated = 0;
  if (!session || !sampler)
    return tern_status_create(TERN_STATUS_INVALID_ARGUMENT,
                              "tern_session_generate: session and sampler must be non-NULL");
  if (prompt_count > 0 && !prompt)
    return tern_status_create(TERN_STATUS_INVALID_ARGUMENT,
                              "tern_session_generate: prompt is NULL but prompt_count is not 0");
  if (max_tokens < 0) {
    char message[128];
    std::snprintf(message, sizeof(message),
                  "tern_session_generate: max_tokens is %d; expected a value >= 0",
                  static_cast<int>(max_tokens));
    return tern_status_create(TERN_STATUS_INVALID_ARGUMENT, message);
  }
  const tern_model_t* model = tern_session_model(session);

  if (prompt_count > 0) {
    // A prompt that does not fit is the caller's error (OUT_OF_RANGE from eval, session intact).
    if (tern_status_t status = tern_session_eval(session, prompt, prompt_count))
      return status;
    for (size_t i = 0; i < prompt_count; ++i)
      tern_sampler_accept(sampler, prompt[i]);
  }
  if (max_tokens == 0)
    return nullptr;
  if (!tern_session_logits(session))
    return tern_status_create(TERN_STATUS_INVALID_ARGUMENT,
                              "tern_session_generate: the session has evaluated no token and the "
                              "prompt is empty; there are no logits to sample from");

  char piece[kMaxPieceBytes];
  int32_t generated = 0;
  while (generated < max_tokens) {
    int32_t token = 0;
    if (tern_status_t status = tern_sampler_sample(sampler, tern_session_logits(session), &token))
      return status;
    if (tern_model_is_end_of_generation(model, token))
      break;
    tern_sampler_accept(sampler, token);

    size_t piece_length = 0;
    if (tern_status_t status =
            tern_model_token_to_piece(model, token, piece, sizeof(piece), &piece_length))
      return status;
    ++generated;
    if (out_generated)
      *out_generated = generated;
    const bool stop_requested =
        callback && callback(user_data, token, piece, piece_length) != 0;

    // Every generated token is evaluated, even the last one, so that the session holds the whole
    // text and a later call with an empty prompt continues from its logits.
    if (tern_status_t status = tern_session_eval(session, &token, 1)) {
      if (tern_status_code(status) == TERN_STATUS_OUT_OF_RANGE) {
        // The context is full: a normal end of generation, not an error.
        tern_status_free(status);
        break;
      }
      return status;
    }
    if (stop_requested)
      break;
  }
  return nullptr;
}
