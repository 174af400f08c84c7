// Owning handles, status reporting and model opening for the `tern` subcommands.
#include "Common.h"

#include <cstdio>
#include <sys/stat.h>

namespace tern::cli {

// Here rather than in Flags.cpp, which is unit-tested without the executor.
tern_model_options_t ModelFlags::options() const {
  tern_model_options_t options;
  tern_model_options_init(&options);
  options.num_threads = threads;
  options.kernels = kernels == "reference" ? TERN_KERNELS_REFERENCE : TERN_KERNELS_GENERATED;
  options.device = device == "cpu"    ? TERN_DEVICE_CPU
                   : device == "cuda" ? TERN_DEVICE_CUDA
                                      : TERN_DEVICE_AUTO;
  options.device_ordinal = device_ordinal;
  return options;
}

bool succeeded(const std::string& command, tern_status_t status, const std::string& what) {
  if (tern_status_ok(status))
    return true;
  std::fprintf(stderr, "%s: %s: %s: %s\n", command.c_str(), what.c_str(),
               tern_status_code_name(tern_status_code(status)), tern_status_message(status));
  tern_status_free(status);
  return false;
}

ModelPtr openModel(const std::string& command, const std::string& path, const ModelFlags& flags) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    std::fprintf(stderr, "%s: model file '%s' does not exist\n", command.c_str(), path.c_str());
    return nullptr;
  }
  if (S_ISDIR(info.st_mode)) {
    std::fprintf(stderr, "%s: '%s' is a directory; expected a .tern file\n", command.c_str(),
                 path.c_str());
    return nullptr;
  }
  tern_model_options_t options = flags.options();
  tern_model_t* model = nullptr;
  if (!succeeded(command, tern_model_open(path.c_str(), &options, &model),
                 "cannot open model '" + path + "'"))
    return nullptr;
  return ModelPtr(model);
}

SessionPtr createSession(const std::string& command, tern_model_t* model) {
  tern_session_t* session = nullptr;
  if (!succeeded(command, tern_session_create(model, nullptr, &session), "cannot create a session"))
    return nullptr;
  return SessionPtr(session);
}

bool tokenize(const std::string& command, const tern_model_t* model, const std::string& text,
              bool add_bos, bool parse_special, std::vector<int32_t>* tokens) {
  // A token covers at least one byte, plus BOS: one call nearly always suffices.
  tokens->resize(text.size() + 2);
  size_t count = 0;
  tern_status_t status = tern_model_tokenize(model, text.data(), text.size(), add_bos,
                                             parse_special, tokens->data(), tokens->size(), &count);
  if (tern_status_code(status) == TERN_STATUS_OUT_OF_RANGE && count > tokens->size()) {
    tern_status_free(status);
    tokens->resize(count);
    status = tern_model_tokenize(model, text.data(), text.size(), add_bos, parse_special,
                                 tokens->data(), tokens->size(), &count);
  }
  if (!succeeded(command, status, "cannot tokenize the prompt"))
    return false;
  tokens->resize(count);
  return true;
}

} // namespace tern::cli
