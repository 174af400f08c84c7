// `tern logits`: the logits of every position of a token sequence, as a SafeTensors file.
#include "Commands.h"
#include "Common.h"
#include "SafeTensors.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

namespace tern::cli {
namespace {

// "1,5,9" -> ids; an error names the bad element.
bool parseTokenList(const std::string& text, std::vector<int32_t>* tokens, std::string* error) {
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos)
      end = text.size();
    std::string item = text.substr(begin, end - begin);
    errno = 0;
    char* stop = nullptr;
    long long value = std::strtoll(item.c_str(), &stop, 10);
    if (item.empty() || *stop != '\0' || errno != 0 || value < 0 || value > INT32_MAX) {
      *error = "--tokens: '" + item + "' is not a token id (expected e.g. --tokens 1,5,9)";
      return false;
    }
    tokens->push_back(static_cast<int32_t>(value));
    begin = end + 1;
  }
  return true;
}

} // namespace

int logitsCommand(int argc, char** argv) {
  std::string token_list;
  std::string prompt;
  std::string output;
  bool no_bos = false;
  ModelFlags model_flags;
  Flags flags("tern logits", "tern logits MODEL.tern (--tokens 1,5,9 | -p TEXT) -o OUT.safetensors",
              "Evaluates a token sequence from position 0 and writes the float32 logits of every\n"
              "position as tensor \"logits\" [seq, vocab] of a SafeTensors file.");
  flags.addString("--tokens", nullptr, &token_list, "comma-separated token ids");
  flags.addString("--prompt", "-p", &prompt, "text to tokenize instead of --tokens");
  flags.addBool("--no-bos", nullptr, &no_bos, "with --prompt: do not prepend the BOS token");
  flags.addString("--output", "-o", &output, "the SafeTensors file to write (required)");
  model_flags.add(flags);

  switch (flags.parse(argc, argv)) {
  case ParseOutcome::Help:
    std::fputs(flags.help().c_str(), stdout);
    return 0;
  case ParseOutcome::Error:
    std::fprintf(stderr, "%s\n", flags.error().c_str());
    return kExitUsage;
  case ParseOutcome::Ok:
    break;
  }
  if (!flags.expectPositionals(1, "the MODEL.tern argument")) {
    std::fprintf(stderr, "%s\n", flags.error().c_str());
    return kExitUsage;
  }
  const std::string command = flags.command();
  if (flags.given("--tokens") == flags.given("--prompt")) {
    std::fprintf(stderr, "%s: give exactly one of --tokens and --prompt (see '%s --help')\n",
                 command.c_str(), command.c_str());
    return kExitUsage;
  }
  if (output.empty()) {
    std::fprintf(stderr, "%s: missing -o OUT.safetensors (see '%s --help')\n", command.c_str(),
                 command.c_str());
    return kExitUsage;
  }
  std::vector<int32_t> tokens;
  if (flags.given("--tokens")) {
    std::string error;
    if (!parseTokenList(token_list, &tokens, &error)) {
      std::fprintf(stderr, "%s: %s\n", command.c_str(), error.c_str());
      return kExitUsage;
    }
  }

  ModelPtr model = openModel(command, flags.positionals()[0], model_flags);
  if (!model)
    return kExitFailure;
  tern_model_info_t info;
  tern_model_info(model.get(), &info);
  if (flags.given("--prompt") &&
      !tokenize(command, model.get(), prompt, !no_bos, /*parse_special=*/true, &tokens))
    return kExitFailure;
  if (tokens.empty()) {
    std::fprintf(stderr, "%s: no tokens to evaluate\n", command.c_str());
    return kExitFailure;
  }
  for (int32_t token : tokens) {
    if (token >= info.vocab_size) {
      std::fprintf(stderr, "%s: --tokens: id %d is outside the vocabulary (%" PRId64 " tokens)\n",
                   command.c_str(), token, info.vocab_size);
      return kExitUsage;
    }
  }
  if (static_cast<int64_t>(tokens.size()) > info.context_length) {
    std::fprintf(stderr, "%s: %zu tokens but the model's context holds %" PRId64 "\n",
                 command.c_str(), tokens.size(), info.context_length);
    return kExitFailure;
  }

  SessionPtr session = createSession(command, model.get());
  if (!session)
    return kExitFailure;
  std::vector<float> logits(tokens.size() * static_cast<size_t>(info.vocab_size)); // (seq, vocab)
  if (!succeeded(command,
                 tern_session_eval_all_logits(session.get(), tokens.data(), tokens.size(),
                                              logits.data()),
                 "evaluation failed"))
    return kExitFailure;

  std::string error;
  if (!writeSafeTensors(output,
                        {F32Tensor{"logits",
                                   {static_cast<int64_t>(tokens.size()), info.vocab_size},
                                   logits.data()}},
                        &error)) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), error.c_str());
    return kExitFailure;
  }
  std::fprintf(stderr, "%s: wrote logits [%zu, %" PRId64 "] to %s\n", command.c_str(),
               tokens.size(), info.vocab_size, output.c_str());
  return 0;
}

} // namespace tern::cli
