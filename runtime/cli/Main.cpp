// The `tern` command: dispatches to run, chat, bench, logits and perplexity.
#include "Commands.h"
#include "Flags.h"
#include "tern/tern.h"

#include <cstdio>
#include <cstring>

namespace {

const char* kUsage =
    "usage: tern COMMAND MODEL.tern [flags]\n"
    "\n"
    "Runs models compiled by ternc.\n"
    "\n"
    "commands:\n"
    "  run      print a prompt and stream its continuation\n"
    "  chat     interactive chat using the model's chat template\n"
    "  bench    prefill and decode speed (tok/s)\n"
    "  logits   logits of every position of a token sequence, as SafeTensors\n"
    "  perplexity  token-level perplexity of a text file\n"
    "\n"
    "'tern COMMAND --help' describes a command's flags; 'tern --version' prints the version.\n";

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return tern::cli::kExitUsage;
  }
  const char* command = argv[1];
  if (!std::strcmp(command, "--help") || !std::strcmp(command, "-h") ||
      !std::strcmp(command, "help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!std::strcmp(command, "--version")) {
    std::printf("tern %s\n", tern_version());
    return 0;
  }
  struct {
    const char* name;
    int (*entry)(int, char**);
  } const commands[] = {{"run", tern::cli::runCommand},
                        {"chat", tern::cli::chatCommand},
                        {"bench", tern::cli::benchCommand},
                        {"logits", tern::cli::logitsCommand},
                        {"perplexity", tern::cli::perplexityCommand}};
  for (const auto& entry : commands)
    if (!std::strcmp(command, entry.name))
      return entry.entry(argc - 2, argv + 2);
  std::fprintf(stderr, "tern: unknown command '%s'; expected run, chat, bench, logits or perplexity (see "
                       "'tern --help')\n",
               command);
  return tern::cli::kExitUsage;
}
