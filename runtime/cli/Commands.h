// Entry points of the `tern` subcommands; each takes the arguments after its name.
#ifndef TERN_CLI_COMMANDS_H
#define TERN_CLI_COMMANDS_H

namespace tern::cli {

int runCommand(int argc, char** argv);
int chatCommand(int argc, char** argv);
int benchCommand(int argc, char** argv);
int logitsCommand(int argc, char** argv);
int perplexityCommand(int argc, char** argv);

} // namespace tern::cli

#endif // TERN_CLI_COMMANDS_H
