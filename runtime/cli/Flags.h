// Command-line flags shared by every `tern` subcommand: declaration, parsing, checks and help.
#ifndef TERN_CLI_FLAGS_H
#define TERN_CLI_FLAGS_H

#include "tern/tern.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tern::cli {

// Exit codes: 0 success, 1 a runtime failure (model, I/O), 2 a usage error (flags, values).
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// An interval for a numeric flag; infinite bounds are open and left out of messages.
struct Range {
  double low;
  double high;
  bool low_inclusive = true;
  bool high_inclusive = true;
  // "a value in (0, 1]", "a value >= 0", "a value > 0".
  std::string describe() const;
  bool contains(double value) const;
};

enum class ParseOutcome {
  Ok,
  Help,  // --help or -h was given: print help() to stdout and exit 0
  Error, // error() says what is wrong: print it to stderr and exit kExitUsage
};

// The flags of one subcommand. Values live in the caller's variables, which hold the defaults
// until parse() overwrites them.
class Flags {
public:
  // |command| is "tern run"; |usage| is the synopsis line after "usage: ".
  Flags(std::string command, std::string usage, std::string description);

  // |name| is "--temp"; |alias| a short form such as "-n" or nullptr.
  void addBool(const char* name, const char* alias, bool* value, const char* help);
  void addInt(const char* name, const char* alias, int32_t* value, Range range, const char* help);
  void addUInt64(const char* name, const char* alias, uint64_t* value, const char* help);
  void addFloat(const char* name, const char* alias, float* value, Range range, const char* help);
  void addString(const char* name, const char* alias, std::string* value, const char* help);
  // A string that must be one of |choices|.
  void addChoice(const char* name, std::string* value, std::vector<std::string> choices,
                 const char* help);
  // A check of flags together, run after a successful parse: it returns "" when they agree,
  // else what is wrong ("--device-ordinal needs --device cuda"), which parse() reports.
  void addCheck(std::function<std::string(const Flags&)> check);

  // Parses |argc| arguments of |argv| ("--flag value", "--flag=value", positionals anywhere;
  // "--" ends the flags). Positionals go to positionals().
  ParseOutcome parse(int argc, char** argv);

  // Checks that exactly |count| positionals were given, named |what| in the error.
  bool expectPositionals(size_t count, const char* what);
  // Whether the flag named |name| appeared on the command line.
  bool given(const char* name) const;

  const std::vector<std::string>& positionals() const { return positionals_; }
  const std::string& error() const { return error_; }
  const std::string& command() const { return command_; }
  std::string help() const;

private:
  enum class Type { Bool, Int, UInt64, Float, String, Choice };
  struct Flag {
    std::string name;
    std::string alias;
    Type type;
    void* value;
    Range range;
    std::vector<std::string> choices;
    std::string help;
    bool given = false;
  };

  void add(Flag flag);
  Flag* find(const std::string& name);
  bool assign(Flag& flag, const std::string& text);
  bool fail(std::string message);

  std::string command_;
  std::string usage_;
  std::string description_;
  std::vector<Flag> flags_;
  std::vector<std::function<std::string(const Flags&)>> checks_;
  std::vector<std::string> positionals_;
  std::string error_;
};

// Flags of every command that opens a model: --threads, --kernels, --device, --device-ordinal.
struct ModelFlags {
  int32_t threads = 0;
  std::string kernels = "generated";
  std::string device = "auto";
  int32_t device_ordinal = 0;
  void add(Flags& flags); // also adds the check that the four agree
  tern_model_options_t options() const; // defined with the executor-facing helpers
};

// The sampling flags of `run` and `chat`, with llama.cpp's defaults; the seed is random unless
// --seed is given.
struct SamplingFlags {
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int32_t repeat_last_n = 64;
  uint64_t seed = 0;
  void add(Flags& flags);
  // The sampler options; a seed from the clock when --seed was not given.
  tern_sampler_options_t options(const Flags& flags) const;
};

} // namespace tern::cli

#endif // TERN_CLI_FLAGS_H
