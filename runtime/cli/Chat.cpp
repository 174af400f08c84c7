// `tern chat`: an interactive conversation on stdin that keeps the KV cache across turns.
#include "ChatTemplate.h"
#include "Commands.h"
#include "Common.h"

#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace tern::cli {
namespace {

int printPiece(void*, int32_t, const char* piece, size_t length) {
  std::fwrite(piece, 1, length, stdout);
  std::fflush(stdout);
  return 0;
}

} // namespace

int chatCommand(int argc, char** argv) {
  std::string system;
  int32_t max_tokens = 512;
  ModelFlags model_flags;
  SamplingFlags sampling;
  Flags flags("tern chat", "tern chat MODEL.tern [flags]",
              "Reads one user message per line from stdin and streams the model's replies,\n"
              "formatted with the chat template in the model's metadata. End with EOF (Ctrl-D).");
  flags.addString("--system", nullptr, &system, "system prompt for the conversation");
  flags.addInt("--n-predict", "-n", &max_tokens, Range{1, 1e9},
               "most tokens per reply (default 512)");
  sampling.add(flags);
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
  const tern_sampler_options_t sampler_options = sampling.options(flags);

  ModelPtr model = openModel(command, flags.positionals()[0], model_flags);
  if (!model)
    return kExitFailure;
  tern_model_info_t info;
  tern_model_info(model.get(), &info);

  bool recognised = false;
  const ChatTemplate chat_template(
      detectChatFormat(tern_model_chat_template(model.get()), &recognised));
  if (!recognised)
    std::fprintf(stderr,
                 "%s: the model has no chat template this build recognises; using plain "
                 "\"User: ...\\nAssistant:\" turns\n",
                 command.c_str());

  SessionPtr session = createSession(command, model.get());
  if (!session)
    return kExitFailure;
  tern_sampler_t* raw_sampler = nullptr;
  if (!succeeded(command, tern_sampler_create(&sampler_options, info.vocab_size, &raw_sampler),
                 "bad sampling options"))
    return kExitUsage;
  SamplerPtr sampler(raw_sampler);

  const bool interactive = isatty(STDIN_FILENO);
  bool first = true;
  std::string line;
  std::vector<int32_t> tokens;
  while (true) {
    if (interactive) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line))
      break;
    if (line.empty())
      continue;

    // Only this turn's text is evaluated: earlier turns stay in the KV cache.
    std::string text = chat_template.renderTurn(system, line, first);
    if (!tokenize(command, model.get(), text, /*add_bos=*/first, /*parse_special=*/true, &tokens))
      return kExitFailure;
    // Leave room for at least one reply token; otherwise start the conversation over.
    if (tern_session_position(session.get()) + static_cast<int64_t>(tokens.size()) + 1 >
        info.context_length) {
      if (first) {
        std::fprintf(stderr, "%s: the message is %zu tokens but the context holds %" PRId64 "\n",
                     command.c_str(), tokens.size(), info.context_length);
        continue;
      }
      std::fprintf(stderr, "%s: the context is full; starting a new conversation\n",
                   command.c_str());
      tern_session_reset(session.get());
      first = true;
      text = chat_template.renderTurn(system, line, first);
      if (!tokenize(command, model.get(), text, true, true, &tokens))
        return kExitFailure;
      if (static_cast<int64_t>(tokens.size()) + 1 > info.context_length) {
        std::fprintf(stderr, "%s: the message is %zu tokens but the context holds %" PRId64 "\n",
                     command.c_str(), tokens.size(), info.context_length);
        continue;
      }
    }
    if (!succeeded(command,
                   tern_session_generate(session.get(), sampler.get(), tokens.data(),
                                         tokens.size(), max_tokens, printPiece, nullptr, nullptr),
                   "generation failed"))
      return kExitFailure;
    std::fputc('\n', stdout);
    std::fflush(stdout);
    first = false;
  }
  return 0;
}

} // namespace tern::cli
