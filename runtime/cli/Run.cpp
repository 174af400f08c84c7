// `tern run`: prints a prompt and streams its continuation, with timings on stderr.
#include "Commands.h"
#include "Common.h"

#include <cinttypes>
#include <cstdio>

namespace tern::cli {
namespace {

int printPiece(void*, int32_t, const char* piece, size_t length) {
  std::fwrite(piece, 1, length, stdout);
  std::fflush(stdout);
  return 0;
}

void printRate(const char* what, size_t tokens, double seconds) {
  std::fprintf(stderr, "%s: %zu tokens in %.2f ms (%.2f tok/s)\n", what, tokens,
               seconds * 1e3, seconds > 0 ? tokens / seconds : 0.0);
}

} // namespace

int runCommand(int argc, char** argv) {
  std::string prompt;
  int32_t max_tokens = 64;
  bool no_bos = false;
  ModelFlags model_flags;
  SamplingFlags sampling;
  Flags flags("tern run", "tern run MODEL.tern -p PROMPT [flags]",
              "Prints PROMPT, then streams up to -n generated tokens as they arrive. Prompt and\n"
              "generation speed go to stderr.");
  flags.addString("--prompt", "-p", &prompt, "the text to continue (required)");
  flags.addInt("--n-predict", "-n", &max_tokens, Range{0, 1e9},
               "most tokens to generate (default 64)");
  sampling.add(flags);
  model_flags.add(flags);
  flags.addBool("--no-bos", nullptr, &no_bos, "do not prepend the BOS token");

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
  if (!flags.given("--prompt")) {
    std::fprintf(stderr, "tern run: missing --prompt (see 'tern run --help')\n");
    return kExitUsage;
  }
  const std::string command = flags.command();
  const tern_sampler_options_t sampler_options = sampling.options(flags);

  ModelPtr model = openModel(command, flags.positionals()[0], model_flags);
  if (!model)
    return kExitFailure;
  tern_model_info_t info;
  tern_model_info(model.get(), &info);

  std::vector<int32_t> tokens;
  if (!tokenize(command, model.get(), prompt, !no_bos, /*parse_special=*/true, &tokens))
    return kExitFailure;
  if (tokens.empty()) {
    std::fprintf(stderr, "%s: the prompt is empty and there is no BOS token to start from\n",
                 command.c_str());
    return kExitFailure;
  }
  if (static_cast<int64_t>(tokens.size()) > info.context_length) {
    std::fprintf(stderr,
                 "%s: the prompt is %zu tokens but the model's context holds %" PRId64 "\n",
                 command.c_str(), tokens.size(), info.context_length);
    return kExitFailure;
  }

  SessionPtr session = createSession(command, model.get());
  if (!session)
    return kExitFailure;
  tern_sampler_t* raw_sampler = nullptr;
  if (!succeeded(command, tern_sampler_create(&sampler_options, info.vocab_size, &raw_sampler),
                 "bad sampling options"))
    return kExitUsage;
  SamplerPtr sampler(raw_sampler);

  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);

  // The prompt is evaluated here rather than by generate so that its speed is measured apart.
  Clock::time_point start = Clock::now();
  if (!succeeded(command, tern_session_eval(session.get(), tokens.data(), tokens.size()),
                 "cannot evaluate the prompt"))
    return kExitFailure;
  const double prompt_seconds = secondsSince(start);
  for (int32_t token : tokens)
    tern_sampler_accept(sampler.get(), token);

  start = Clock::now();
  int32_t generated = 0;
  if (!succeeded(command,
                 tern_session_generate(session.get(), sampler.get(), nullptr, 0, max_tokens,
                                       printPiece, nullptr, &generated),
                 "generation failed"))
    return kExitFailure;
  const double generation_seconds = secondsSince(start);
  std::fputc('\n', stdout);
  std::fflush(stdout);

  std::fprintf(stderr, "\nseed: %" PRIu64 "\n", sampler_options.seed);
  printRate("prompt", tokens.size(), prompt_seconds);
  printRate("generation", static_cast<size_t>(generated), generation_seconds);
  return 0;
}

} // namespace tern::cli
