// Owning holders of the C API's objects for tests: a status (freed, with its code and
// message) and a model and session (released), so that a failing assertion leaks nothing.
#ifndef TERN_TESTS_EXECUTOR_CAPIHANDLES_H
#define TERN_TESTS_EXECUTOR_CAPIHANDLES_H

#include "tern/tern.h"

#include <string>

namespace tern::test {

struct Status {
  tern_status_t status = nullptr;
  ~Status() { tern_status_free(status); }
  tern_status_code_t code() const { return tern_status_code(status); }
  std::string message() const { return tern_status_message(status); }
  bool contains(const std::string &text) const {
    return message().find(text) != std::string::npos;
  }
};

struct Model {
  tern_model_t *model = nullptr;
  ~Model() { tern_model_release(model); }
};

struct Session {
  tern_session_t *session = nullptr;
  ~Session() { tern_session_release(session); }
};

} // namespace tern::test

#endif
