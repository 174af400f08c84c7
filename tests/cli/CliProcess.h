// Runs a program with arguments and captures its exit code, stdout and stderr (for CLI tests).
#ifndef TERN_TESTS_CLI_CLIPROCESS_H
#define TERN_TESTS_CLI_CLIPROCESS_H

#include <string>
#include <vector>

struct ProcessResult {
  int exit_code = -1; // -1 when the process did not exit normally
  std::string out;
  std::string err;
};

// Runs |program| with |arguments| and |input| on stdin, without a shell's word splitting.
ProcessResult runProcess(const std::string& program, const std::vector<std::string>& arguments,
                         const std::string& input = "");

#endif // TERN_TESTS_CLI_CLIPROCESS_H
