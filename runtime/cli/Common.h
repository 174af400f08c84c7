// Helpers every `tern` subcommand shares: owning handles, status reporting, model opening.
#ifndef TERN_CLI_COMMON_H
#define TERN_CLI_COMMON_H

#include "Flags.h"
#include "tern/tern.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace tern::cli {

struct ModelDeleter {
  void operator()(tern_model_t* model) const { tern_model_release(model); }
};
struct SessionDeleter {
  void operator()(tern_session_t* session) const { tern_session_release(session); }
};
struct SamplerDeleter {
  void operator()(tern_sampler_t* sampler) const { tern_sampler_release(sampler); }
};
using ModelPtr = std::unique_ptr<tern_model_t, ModelDeleter>;
using SessionPtr = std::unique_ptr<tern_session_t, SessionDeleter>;
using SamplerPtr = std::unique_ptr<tern_sampler_t, SamplerDeleter>;

// Prints "<command>: <what>: <CODE>: <message>" to stderr and frees |status| when it is an
// error; returns whether it was success.
bool succeeded(const std::string& command, tern_status_t status, const std::string& what);

// Opens the artifact at |path|, first checking the file exists so that a typo gets a plain
// message; errors are printed, and null returned.
ModelPtr openModel(const std::string& command, const std::string& path, const ModelFlags& flags);

SessionPtr createSession(const std::string& command, tern_model_t* model);

// Tokenizes |text|; errors are printed and false returned.
bool tokenize(const std::string& command, const tern_model_t* model, const std::string& text,
              bool add_bos, bool parse_special, std::vector<int32_t>* tokens);

using Clock = std::chrono::steady_clock;
inline double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

} // namespace tern::cli

#endif // TERN_CLI_COMMON_H
