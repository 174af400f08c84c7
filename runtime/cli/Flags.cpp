// Flag parsing for the `tern` subcommands: every bad flag or value names itself in the error.
#include "Flags.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace tern::cli {
namespace {

std::string formatNumber(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%g", value);
  return buffer;
}

bool parseDouble(const std::string& text, double* out) {
  if (text.empty())
    return false;
  errno = 0;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(value))
    return false;
  *out = value;
  return true;
}

bool parseInteger(const std::string& text, long long* out) {
  if (text.empty())
    return false;
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0')
    return false;
  *out = value;
  return true;
}

bool parseUnsigned(const std::string& text, unsigned long long* out) {
  // strtoull accepts "-1" and wraps it; a seed is never negative.
  if (text.empty() || text[0] == '-')
    return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0')
    return false;
  *out = value;
  return true;
}

} // namespace

std::string Range::describe() const {
  const bool has_low = std::isfinite(low);
  const bool has_high = std::isfinite(high);
  if (has_low && has_high)
    return std::string("a value in ") + (low_inclusive ? "[" : "(") + formatNumber(low) + ", " +
           formatNumber(high) + (high_inclusive ? "]" : ")");
  if (has_low)
    return std::string("a value ") + (low_inclusive ? ">= " : "> ") + formatNumber(low);
  if (has_high)
    return std::string("a value ") + (high_inclusive ? "<= " : "< ") + formatNumber(high);
  return "a number";
}

bool Range::contains(double value) const {
  if (low_inclusive ? value < low : value <= low)
    return false;
  if (high_inclusive ? value > high : value >= high)
    return false;
  return true;
}

Flags::Flags(std::string command, std::string usage, std::string description)
    : command_(std::move(command)), usage_(std::move(usage)),
      description_(std::move(description)) {}

void Flags::add(Flag flag) { flags_.push_back(std::move(flag)); }

void Flags::addBool(const char* name, const char* alias, bool* value, const char* help) {
  add(Flag{name, alias ? alias : "", Type::Bool, value, Range{0, 0}, {}, help});
}

void Flags::addInt(const char* name, const char* alias, int32_t* value, Range range,
                   const char* help) {
  add(Flag{name, alias ? alias : "", Type::Int, value, range, {}, help});
}

void Flags::addUInt64(const char* name, const char* alias, uint64_t* value, const char* help) {
  add(Flag{name, alias ? alias : "", Type::UInt64, value, Range{0, 0}, {}, help});
}

void Flags::addFloat(const char* name, const char* alias, float* value, Range range,
                     const char* help) {
  add(Flag{name, alias ? alias : "", Type::Float, value, range, {}, help});
}

void Flags::addString(const char* name, const char* alias, std::string* value, const char* help) {
  add(Flag{name, alias ? alias : "", Type::String, value, Range{0, 0}, {}, help});
}

void Flags::addChoice(const char* name, std::string* value, std::vector<std::string> choices,
                      const char* help) {
  add(Flag{name, "", Type::Choice, value, Range{0, 0}, std::move(choices), help});
}

void Flags::addCheck(std::function<std::string(const Flags&)> check) {
  checks_.push_back(std::move(check));
}

Flags::Flag* Flags::find(const std::string& name) {
  for (Flag& flag : flags_)
    if (flag.name == name || (!flag.alias.empty() && flag.alias == name))
      return &flag;
  return nullptr;
}

bool Flags::given(const char* name) const {
  for (const Flag& flag : flags_)
    if (flag.name == name)
      return flag.given;
  return false;
}

bool Flags::fail(std::string message) {
  error_ = command_ + ": " + std::move(message) + " (see '" + command_ + " --help')";
  return false;
}

bool Flags::assign(Flag& flag, const std::string& text) {
  const std::string& name = flag.name;
  switch (flag.type) {
  case Type::Bool:
    *static_cast<bool*>(flag.value) = true;
    return true;
  case Type::String:
    *static_cast<std::string*>(flag.value) = text;
    return true;
  case Type::Choice: {
    std::string allowed;
    for (const std::string& choice : flag.choices) {
      if (choice == text) {
        *static_cast<std::string*>(flag.value) = text;
        return true;
      }
      allowed += (allowed.empty() ? "" : ", ") + choice;
    }
    return fail(name + " is '" + text + "'; expected one of " + allowed);
  }
  case Type::Int: {
    long long value = 0;
    if (!parseInteger(text, &value))
      return fail(name + " expects an integer, got '" + text + "'");
    if (value < std::numeric_limits<int32_t>::min() ||
        value > std::numeric_limits<int32_t>::max() ||
        !flag.range.contains(static_cast<double>(value)))
      return fail(name + " is " + text + "; expected " + flag.range.describe());
    *static_cast<int32_t*>(flag.value) = static_cast<int32_t>(value);
    return true;
  }
  case Type::UInt64: {
    unsigned long long value = 0;
    if (!parseUnsigned(text, &value))
      return fail(name + " expects a non-negative integer, got '" + text + "'");
    *static_cast<uint64_t*>(flag.value) = value;
    return true;
  }
  case Type::Float: {
    double value = 0;
    if (!parseDouble(text, &value))
      return fail(name + " expects a number, got '" + text + "'");
    if (!flag.range.contains(value))
      return fail(name + " is " + text + "; expected " + flag.range.describe());
    *static_cast<float*>(flag.value) = static_cast<float>(value);
    return true;
  }
  }
  return fail("internal error: flag " + name + " has no type");
}

ParseOutcome Flags::parse(int argc, char** argv) {
  bool flags_ended = false;
  for (int i = 0; i < argc; ++i) {
    std::string argument = argv[i];
    // A lone "-" is a positional (stdin by convention), as is anything after "--".
    if (flags_ended || argument.size() < 2 || argument[0] != '-') {
      positionals_.push_back(argument);
      continue;
    }
    if (argument == "--") {
      flags_ended = true;
      continue;
    }
    if (argument == "--help" || argument == "-h")
      return ParseOutcome::Help;

    std::string name = argument;
    std::string value;
    bool inline_value = false;
    if (size_t equals = argument.find('='); argument.rfind("--", 0) == 0 &&
                                            equals != std::string::npos) {
      name = argument.substr(0, equals);
      value = argument.substr(equals + 1);
      inline_value = true;
    }
    Flag* flag = find(name);
    if (!flag) {
      fail("unknown flag '" + name + "'");
      return ParseOutcome::Error;
    }
    if (flag->type == Type::Bool) {
      if (inline_value) {
        fail(flag->name + " takes no value, got '" + value + "'");
        return ParseOutcome::Error;
      }
    } else if (!inline_value) {
      // The next argument is the value even when it starts with '-' (--temp -1 is a bad value,
      // not a missing one).
      if (i + 1 >= argc) {
        fail(flag->name + " expects a value");
        return ParseOutcome::Error;
      }
      value = argv[++i];
    }
    if (!assign(*flag, value))
      return ParseOutcome::Error;
    flag->given = true;
  }
  for (const auto& check : checks_)
    if (std::string problem = check(*this); !problem.empty()) {
      fail(std::move(problem));
      return ParseOutcome::Error;
    }
  return ParseOutcome::Ok;
}

bool Flags::expectPositionals(size_t count, const char* what) {
  if (positionals_.size() == count)
    return true;
  if (positionals_.size() < count)
    return fail(std::string("missing ") + what);
  return fail("unexpected argument '" + positionals_[count] + "'");
}

std::string Flags::help() const {
  std::string text = "usage: " + usage_ + "\n\n" + description_ + "\n\nflags:\n";
  for (const Flag& flag : flags_) {
    std::string names = "  " + (flag.alias.empty() ? "    " : flag.alias + ", ") + flag.name;
    switch (flag.type) {
    case Type::Bool:
      break;
    case Type::Int:
    case Type::UInt64:
      names += " N";
      break;
    case Type::Float:
      names += " X";
      break;
    case Type::String:
      names += " TEXT";
      break;
    case Type::Choice: {
      std::string choices;
      for (const std::string& choice : flag.choices)
        choices += (choices.empty() ? "" : "|") + choice;
      names += " " + choices;
      break;
    }
    }
    if (names.size() < 30)
      names.resize(30, ' ');
    else
      names += "\n" + std::string(30, ' ');
    text += names + flag.help + "\n";
  }
  text += "  -h, --help                  this help\n";
  return text;
}

void ModelFlags::add(Flags& flags) {
  flags.addInt("--threads", "-t", &threads, Range{0, 4096},
               "worker threads including the caller; 0 = one per CPU (default 0)");
  flags.addChoice("--kernels", &kernels, {"generated", "reference"},
                  "generated: the compiled kernels; reference: the runtime's plain C++ twins");
  flags.addChoice("--device", &device, {"auto", "cpu", "cuda"},
                  "where the kernels run; auto: cuda for a GPU (sm_XY) artifact, cpu for a CPU "
                  "one and for --kernels reference (default auto)");
  flags.addInt("--device-ordinal", nullptr, &device_ordinal, Range{0, 1023},
               "which GPU runs a cuda model (default 0)");
  flags.addCheck([this](const Flags& parsed) -> std::string {
    if (device == "cuda" && kernels == "reference")
      return "--kernels reference runs the runtime's C++ twins on the CPU; it cannot be "
             "combined with --device cuda";
    if (device == "cpu" && parsed.given("--device-ordinal"))
      return "--device-ordinal picks a GPU; it needs --device cuda or auto, not cpu";
    return "";
  });
}

void SamplingFlags::add(Flags& flags) {
  const double inf = std::numeric_limits<double>::infinity();
  flags.addFloat("--temp", nullptr, &temperature, Range{0, inf},
                 "temperature; 0 = greedy (default 0.8)");
  flags.addInt("--top-k", nullptr, &top_k, Range{0, inf},
               "keep the K most likely tokens; 0 = off (default 40)");
  flags.addFloat("--top-p", nullptr, &top_p, Range{0, 1, false, true},
                 "keep the smallest set with this much mass; 1 = off (default 0.95)");
  flags.addFloat("--min-p", nullptr, &min_p, Range{0, 1, true, false},
                 "drop tokens below this fraction of the best; 0 = off (default 0.05)");
  flags.addFloat("--repeat-penalty", nullptr, &repeat_penalty, Range{0, inf, false, true},
                 "penalty for recently seen tokens; 1 = off (default 1)");
  flags.addInt("--repeat-last-n", nullptr, &repeat_last_n, Range{0, 1 << 20},
               "tokens the penalty looks back over (default 64)");
  flags.addUInt64("--seed", nullptr, &seed, "random seed (default: from the clock)");
}

tern_sampler_options_t SamplingFlags::options(const Flags& flags) const {
  tern_sampler_options_t options;
  tern_sampler_options_init(&options);
  options.temperature = temperature;
  options.top_k = top_k;
  options.top_p = top_p;
  options.min_p = min_p;
  options.repeat_penalty = repeat_penalty;
  options.repeat_last_n = repeat_last_n;
  options.seed = flags.given("--seed")
                     ? seed
                     : static_cast<uint64_t>(
                           std::chrono::high_resolution_clock::now().time_since_epoch().count());
  return options;
}

} // namespace tern::cli
