// Tests of the shared `tern` flag parser: forms, values, ranges and the messages of errors.
#include "Flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::cli {
namespace {

// Owns argv strings for Flags::parse.
struct Arguments {
  explicit Arguments(std::vector<std::string> list) : strings(std::move(list)) {
    for (std::string& text : strings)
      pointers.push_back(text.data());
  }
  int argc() { return static_cast<int>(pointers.size()); }
  char** argv() { return pointers.data(); }
  std::vector<std::string> strings;
  std::vector<char*> pointers;
};

struct RunFlags {
  std::string prompt;
  int32_t count = 64;
  bool no_bos = false;
  ModelFlags model;
  SamplingFlags sampling;
  Flags flags{"tern run", "tern run MODEL.tern -p PROMPT", "Runs."};
  RunFlags() {
    flags.addString("--prompt", "-p", &prompt, "prompt");
    flags.addInt("--n-predict", "-n", &count, Range{0, 1e9}, "count");
    flags.addBool("--no-bos", nullptr, &no_bos, "no bos");
    sampling.add(flags);
    model.add(flags);
  }
  ParseOutcome parse(std::vector<std::string> list) {
    Arguments arguments(std::move(list));
    return flags.parse(arguments.argc(), arguments.argv());
  }
};

void expectError(std::vector<std::string> list, const std::string& expected) {
  RunFlags run;
  ASSERT_EQ(run.parse(list), ParseOutcome::Error) << expected;
  EXPECT_NE(run.flags.error().find(expected), std::string::npos) << run.flags.error();
  EXPECT_EQ(run.flags.error().rfind("tern run: ", 0), 0u) << run.flags.error();
}

TEST(Flags, ParsesSeparateAndInlineValuesAndPositionalsAnywhere) {
  RunFlags run;
  ASSERT_EQ(run.parse({"-p", "Once upon", "model.tern", "--temp=0.5", "-n", "12", "--no-bos",
                       "--top-k", "7", "--seed", "18446744073709551615", "--kernels",
                       "reference", "-t", "3"}),
            ParseOutcome::Ok)
      << run.flags.error();
  EXPECT_EQ(run.prompt, "Once upon");
  EXPECT_EQ(run.count, 12);
  EXPECT_TRUE(run.no_bos);
  EXPECT_FLOAT_EQ(run.sampling.temperature, 0.5f);
  EXPECT_EQ(run.sampling.top_k, 7);
  EXPECT_EQ(run.sampling.seed, 18446744073709551615ull);
  EXPECT_EQ(run.flags.positionals(), std::vector<std::string>{"model.tern"});
  EXPECT_TRUE(run.flags.given("--seed"));
  EXPECT_FALSE(run.flags.given("--top-p"));
  EXPECT_EQ(run.model.kernels, "reference");
  EXPECT_EQ(run.model.threads, 3);
}

TEST(Flags, SamplerOptionsCarryTheValuesAndTheGivenSeed) {
  RunFlags run;
  ASSERT_EQ(run.parse({"--top-p", "0.9", "--min-p", "0", "--repeat-penalty", "1.1",
                       "--repeat-last-n", "32", "--seed", "5"}),
            ParseOutcome::Ok);
  tern_sampler_options_t options = run.sampling.options(run.flags);
  EXPECT_FLOAT_EQ(options.top_p, 0.9f);
  EXPECT_EQ(options.min_p, 0.0f);
  EXPECT_FLOAT_EQ(options.repeat_penalty, 1.1f);
  EXPECT_EQ(options.repeat_last_n, 32);
  EXPECT_EQ(options.seed, 5u);
  EXPECT_FLOAT_EQ(options.temperature, 0.8f); // the default
  EXPECT_EQ(options.top_k, 40);
}

TEST(Flags, AValueMayStartWithADash) {
  RunFlags run;
  ASSERT_EQ(run.parse({"-p", "-dash-"}), ParseOutcome::Ok);
  EXPECT_EQ(run.prompt, "-dash-");
}

TEST(Flags, DoubleDashEndsTheFlags) {
  RunFlags run;
  ASSERT_EQ(run.parse({"--", "--temp"}), ParseOutcome::Ok);
  EXPECT_EQ(run.flags.positionals(), std::vector<std::string>{"--temp"});
}

TEST(Flags, HelpWins) {
  RunFlags run;
  EXPECT_EQ(run.parse({"--temp", "0.1", "--help"}), ParseOutcome::Help);
  std::string help = run.flags.help();
  EXPECT_NE(help.find("usage: tern run MODEL.tern -p PROMPT"), std::string::npos);
  EXPECT_NE(help.find("--repeat-last-n N"), std::string::npos);
  EXPECT_NE(help.find("--kernels generated|reference"), std::string::npos);
  RunFlags short_form;
  EXPECT_EQ(short_form.parse({"-h"}), ParseOutcome::Help);
}

TEST(Flags, ErrorsNameTheFlagAndTheAllowedValues) {
  expectError({"--tempp", "1"}, "unknown flag '--tempp'");
  expectError({"--temp"}, "--temp expects a value");
  expectError({"--temp", "hot"}, "--temp expects a number, got 'hot'");
  expectError({"--temp", "-1"}, "--temp is -1; expected a value >= 0");
  expectError({"--temp", "nan"}, "--temp expects a number, got 'nan'");
  expectError({"--top-p", "0"}, "--top-p is 0; expected a value in (0, 1]");
  expectError({"--top-p", "1.5"}, "--top-p is 1.5; expected a value in (0, 1]");
  expectError({"--min-p", "1"}, "--min-p is 1; expected a value in [0, 1)");
  expectError({"--repeat-penalty", "0"}, "--repeat-penalty is 0; expected a value > 0");
  expectError({"--top-k", "-3"}, "--top-k is -3; expected a value >= 0");
  expectError({"--top-k", "2.5"}, "--top-k expects an integer, got '2.5'");
  expectError({"-n", "99999999999"}, "--n-predict is 99999999999; expected a value in [0, 1e+09]");
  expectError({"--seed", "-1"}, "--seed expects a non-negative integer, got '-1'");
  expectError({"--kernels", "fast"}, "--kernels is 'fast'; expected one of generated, reference");
  expectError({"--no-bos=1"}, "--no-bos takes no value");
  expectError({"--threads", "x"}, "--threads expects an integer");
}

TEST(Flags, DeviceFlagsSelectTheDeviceAndTheGpu) {
  RunFlags defaults;
  ASSERT_EQ(defaults.parse({"m.tern"}), ParseOutcome::Ok) << defaults.flags.error();
  EXPECT_EQ(defaults.model.device, "auto");
  EXPECT_EQ(defaults.model.device_ordinal, 0);
  RunFlags cuda;
  ASSERT_EQ(cuda.parse({"m.tern", "--device", "cuda", "--device-ordinal=3"}), ParseOutcome::Ok)
      << cuda.flags.error();
  EXPECT_EQ(cuda.model.device, "cuda");
  EXPECT_EQ(cuda.model.device_ordinal, 3);
  RunFlags cpu;
  ASSERT_EQ(cpu.parse({"--device=cpu", "--kernels", "reference"}), ParseOutcome::Ok)
      << cpu.flags.error();
  EXPECT_EQ(cpu.model.device, "cpu");
  RunFlags autoWithOrdinal;
  EXPECT_EQ(autoWithOrdinal.parse({"--device-ordinal", "1"}), ParseOutcome::Ok)
      << autoWithOrdinal.flags.error();
  RunFlags help;
  EXPECT_EQ(help.parse({"--help"}), ParseOutcome::Help);
  EXPECT_NE(help.flags.help().find("--device auto|cpu|cuda"), std::string::npos);
  EXPECT_NE(help.flags.help().find("--device-ordinal N"), std::string::npos);
}

TEST(Flags, DeviceFlagsThatContradictEachOtherAreRejected) {
  expectError({"--device", "gpu"}, "--device is 'gpu'; expected one of auto, cpu, cuda");
  expectError({"--device-ordinal", "-1"}, "--device-ordinal is -1; expected a value in [0, 1023]");
  expectError({"--device-ordinal", "first"}, "--device-ordinal expects an integer");
  expectError({"--device", "cuda", "--kernels", "reference"},
              "--kernels reference runs the runtime's C++ twins on the CPU; it cannot be "
              "combined with --device cuda");
  expectError({"--device-ordinal", "1", "--device", "cpu"},
              "--device-ordinal picks a GPU; it needs --device cuda or auto, not cpu");
}

TEST(Flags, PositionalCountIsChecked) {
  RunFlags none;
  ASSERT_EQ(none.parse({}), ParseOutcome::Ok);
  EXPECT_FALSE(none.flags.expectPositionals(1, "the MODEL.tern argument"));
  EXPECT_NE(none.flags.error().find("missing the MODEL.tern argument"), std::string::npos);
  RunFlags two;
  ASSERT_EQ(two.parse({"a.tern", "b.tern"}), ParseOutcome::Ok);
  EXPECT_FALSE(two.flags.expectPositionals(1, "the MODEL.tern argument"));
  EXPECT_NE(two.flags.error().find("unexpected argument 'b.tern'"), std::string::npos);
}

TEST(Range, DescribesItsBounds) {
  const double inf = 1.0 / 0.0;
  EXPECT_EQ((Range{0, 1, false, true}).describe(), "a value in (0, 1]");
  EXPECT_EQ((Range{0, inf}).describe(), "a value >= 0");
  EXPECT_EQ((Range{0, inf, false}).describe(), "a value > 0");
  EXPECT_TRUE((Range{0, 1, false, true}).contains(1.0));
  EXPECT_FALSE((Range{0, 1, false, true}).contains(0.0));
}

} // namespace
} // namespace tern::cli
