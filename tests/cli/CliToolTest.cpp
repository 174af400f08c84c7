// The `tern` binary's handling of bad commands, flags, values and model paths (no model needed).
#include "CliProcess.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

ProcessResult tern(const std::vector<std::string>& arguments) {
  return runProcess(TERN_CLI_PATH, arguments);
}

void expectUsageError(const std::vector<std::string>& arguments, const std::string& message) {
  ProcessResult result = tern(arguments);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;
}

TEST(TernTool, PrintsVersionAndHelp) {
  ProcessResult version = tern({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("tern ", 0), 0u) << version.out;
  ProcessResult help = tern({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"run", "chat", "bench", "logits"})
    EXPECT_NE(help.out.find(std::string("  ") + command + " "), std::string::npos) << command;
}

TEST(TernTool, EverySubcommandHasHelp) {
  for (const char* command : {"run", "chat", "bench", "logits"}) {
    ProcessResult result = tern({command, "--help"});
    EXPECT_EQ(result.exit_code, 0) << command;
    EXPECT_NE(result.out.find(std::string("usage: tern ") + command), std::string::npos)
        << result.out;
    EXPECT_NE(result.out.find("--kernels"), std::string::npos) << command;
    EXPECT_NE(result.out.find("--device auto|cpu|cuda"), std::string::npos) << command;
    EXPECT_NE(result.out.find("--device-ordinal N"), std::string::npos) << command;
  }
}

TEST(TernTool, RejectsUnknownCommandsAndMissingArguments) {
  expectUsageError({"walk"}, "tern: unknown command 'walk'");
  ProcessResult bare = tern({});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.err.find("usage: tern COMMAND"), std::string::npos);
  expectUsageError({"run", "-p", "hi"}, "tern run: missing the MODEL.tern argument");
  expectUsageError({"run", "m.tern"}, "tern run: missing --prompt");
  expectUsageError({"logits", "m.tern", "-o", "x.safetensors"},
                   "tern logits: give exactly one of --tokens and --prompt");
  expectUsageError({"logits", "m.tern", "--tokens", "1,2"}, "tern logits: missing -o");
  expectUsageError({"bench", "m.tern", "-p", "0", "-n", "0"}, "nothing to measure");
}

TEST(TernTool, RejectsBadFlagsAndValuesNamingTheFlag) {
  expectUsageError({"run", "m.tern", "-p", "hi", "--temperature", "1"},
                   "tern run: unknown flag '--temperature'");
  expectUsageError({"run", "m.tern", "-p", "hi", "--top-p", "2"},
                   "tern run: --top-p is 2; expected a value in (0, 1]");
  expectUsageError({"run", "m.tern", "-p", "hi", "-n", "many"},
                   "tern run: --n-predict expects an integer, got 'many'");
  expectUsageError({"chat", "m.tern", "--min-p", "1"}, "tern chat: --min-p is 1");
  expectUsageError({"bench", "m.tern", "--repetitions", "0"},
                   "tern bench: --repetitions is 0; expected a value in [1, 1e+06]");
  expectUsageError({"bench", "m.tern", "--kernels", "fastest"},
                   "--kernels is 'fastest'; expected one of generated, reference");
  expectUsageError({"run", "m.tern", "-p", "hi", "--device", "tpu"},
                   "tern run: --device is 'tpu'; expected one of auto, cpu, cuda");
  expectUsageError({"logits", "m.tern", "--tokens", "1", "-o", "x", "--device", "cuda",
                    "--kernels", "reference"},
                   "tern logits: --kernels reference runs the runtime's C++ twins on the CPU");
  expectUsageError({"chat", "m.tern", "--device", "cpu", "--device-ordinal", "2"},
                   "tern chat: --device-ordinal picks a GPU; it needs --device cuda or auto");
  expectUsageError({"logits", "m.tern", "--tokens", "1,x,3", "-o", "o.safetensors"},
                   "--tokens: 'x' is not a token id");
  expectUsageError({"logits", "m.tern", "--tokens", "1,,3", "-o", "o.safetensors"},
                   "--tokens: '' is not a token id");
}

TEST(TernTool, MissingModelFileIsAClearFailure) {
  for (const std::vector<std::string>& arguments :
       {std::vector<std::string>{"run", "no/such/model.tern", "-p", "hi"},
        std::vector<std::string>{"chat", "no/such/model.tern"},
        std::vector<std::string>{"bench", "no/such/model.tern"},
        std::vector<std::string>{"logits", "no/such/model.tern", "--tokens", "1", "-o", "x"}}) {
    ProcessResult result = tern(arguments);
    EXPECT_EQ(result.exit_code, 1) << arguments[0];
    EXPECT_NE(result.err.find("model file 'no/such/model.tern' does not exist"), std::string::npos)
        << result.err;
  }
}

TEST(TernTool, ANonArtifactFileIsRejectedByTheLoader) {
  // A text file is not a .tern artifact: the loader must say so, not crash. (Not __FILE__: a
  // compiler launcher such as ccache with CCACHE_BASEDIR makes it relative to the build tree.)
  const std::string path = ::testing::TempDir() + "/not_an_artifact_" + std::to_string(getpid());
  std::FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr) << path;
  std::fputs("This text is not a .tern artifact, but it is long enough to hold a header.\n", file);
  std::fclose(file);
  ProcessResult result = tern({"run", path, "-p", "hi"});
  std::remove(path.c_str());
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("tern run: cannot open model"), std::string::npos) << result.err;
}

} // namespace
