// tern_status_t: heap-allocated code + message, NULL for success.
#include "tern/tern.h"

#include <cstdlib>
#include <cstring>
#include <new>

struct tern_status_s {
  tern_status_code_t code;
  char* message; // owned, NUL-terminated
};

namespace {
// Returned when allocating a status fails; must never be freed.
tern_status_s outOfMemoryStatus = {TERN_STATUS_RESOURCE_EXHAUSTED,
                                   const_cast<char*>("out of memory creating a status")};
} // namespace

extern "C" tern_status_t tern_status_create(tern_status_code_t code, const char* message) {
  if (code == TERN_STATUS_OK)
    return nullptr;
  if (!message)
    message = "";
  auto* status = new (std::nothrow) tern_status_s;
  size_t length = std::strlen(message);
  char* copy = static_cast<char*>(std::malloc(length + 1));
  if (!status || !copy) {
    delete status;
    std::free(copy);
    return &outOfMemoryStatus;
  }
  std::memcpy(copy, message, length + 1);
  status->code = code;
  status->message = copy;
  return status;
}

extern "C" tern_status_code_t tern_status_code(tern_status_t status) {
  return status ? status->code : TERN_STATUS_OK;
}

extern "C" const char* tern_status_message(tern_status_t status) {
  return status ? status->message : "";
}

extern "C" const char* tern_status_code_name(tern_status_code_t code) {
  switch (code) {
  case TERN_STATUS_OK:
    return "OK";
  case TERN_STATUS_INVALID_ARGUMENT:
    return "INVALID_ARGUMENT";
  case TERN_STATUS_NOT_FOUND:
    return "NOT_FOUND";
  case TERN_STATUS_OUT_OF_RANGE:
    return "OUT_OF_RANGE";
  case TERN_STATUS_DATA_LOSS:
    return "DATA_LOSS";
  case TERN_STATUS_UNIMPLEMENTED:
    return "UNIMPLEMENTED";
  case TERN_STATUS_UNAVAILABLE:
    return "UNAVAILABLE";
  case TERN_STATUS_RESOURCE_EXHAUSTED:
    return "RESOURCE_EXHAUSTED";
  case TERN_STATUS_INTERNAL:
    return "INTERNAL";
  }
  return "UNKNOWN";
}

extern "C" void tern_status_free(tern_status_t status) {
  if (!status || status == &outOfMemoryStatus)
    return;
  std::free(status->message);
  delete status;
}
