// tern_model_tokenize and friends: the C API over the model's runtime tokenizer.
#include "ModelImpl.h"

#include <cstring>
#include <string>

namespace {

tern_status_t noTokenizer(const tern_model_t *model) {
  std::string message = model->artifact->name() + ": the artifact has no tokenizer";
  return tern_status_create(TERN_STATUS_NOT_FOUND, message.c_str());
}

} // namespace

extern "C" {

int32_t tern_model_special_token(const tern_model_t *model, tern_special_token_t which) {
  if (!model->tokenizer)
    return -1;
  switch (which) {
  case TERN_TOKEN_BOS:
    return model->tokenizer->bosId();
  case TERN_TOKEN_EOS:
    return model->tokenizer->eosId();
  case TERN_TOKEN_EOT:
    return model->eotId;
  }
  return -1;
}

int tern_model_is_end_of_generation(const tern_model_t *model, int32_t token) {
  for (int32_t id : model->endOfGeneration)
    if (id == token)
      return 1;
  return 0;
}

tern_status_t tern_model_tokenize(const tern_model_t *model, const char *text, size_t length,
                                  int add_bos, int parse_special, int32_t *tokens,
                                  size_t capacity, size_t *out_count) {
  if (!model->tokenizer)
    return noTokenizer(model);
  if ((!text && length) || (!tokens && capacity) || !out_count)
    return tern_status_create(TERN_STATUS_INVALID_ARGUMENT,
                              "tern_model_tokenize: text, tokens or out_count is NULL");
  std::vector<int32_t> ids = model->tokenizer->encode(std::string(text ? text : "", length),
                                                      add_bos != 0, parse_special != 0);
  *out_count = ids.size();
  if (ids.size() > capacity) {
    std::string message = "tern_model_tokenize: the text is " + std::to_string(ids.size()) +
                          " tokens but the buffer holds " + std::to_string(capacity);
    return tern_status_create(TERN_STATUS_OUT_OF_RANGE, message.c_str());
  }
  if (!ids.empty())
    std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
  return nullptr;
}

tern_status_t tern_model_token_to_piece(const tern_model_t *model, int32_t token, char *buffer,
                                        size_t capacity, size_t *out_length) {
  if (!model->tokenizer)
    return noTokenizer(model);
  if (!out_length || (!buffer && capacity))
    return tern_status_create(TERN_STATUS_INVALID_ARGUMENT,
                              "tern_model_token_to_piece: buffer or out_length is NULL");
  if (token < 0 || token >= model->tokenizer->vocabSize()) {
    std::string message = "tern_model_token_to_piece: token " + std::to_string(token) +
                          " is outside the vocabulary of " +
                          std::to_string(model->tokenizer->vocabSize());
    return tern_status_create(TERN_STATUS_OUT_OF_RANGE, message.c_str());
  }
  std::string piece = model->tokenizer->tokenPiece(token);
  *out_length = piece.size();
  if (piece.size() > capacity) {
    std::string message = "tern_model_token_to_piece: token " + std::to_string(token) +
                          " is " + std::to_string(piece.size()) + " bytes but the buffer holds " +
                          std::to_string(capacity);
    return tern_status_create(TERN_STATUS_OUT_OF_RANGE, message.c_str());
  }
  if (!piece.empty())
    std::memcpy(buffer, piece.data(), piece.size());
  return nullptr;
}

} // extern "C"
