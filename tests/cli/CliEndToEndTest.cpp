// `tern` on a real model compiled by ternc (stories260K): greedy run vs logits, golden text,
// bench JSON and profile, chat, and input errors.
#include "../executor/EntryPlan.h"
#include "CliProcess.h"
#include "tern/tern.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

const char* kPrompt = "Once upon a time";

std::string readFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

bool exists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

// Reads tensor "logits" of a SafeTensors file written by `tern logits`.
bool readLogits(const std::string& path, std::vector<int64_t>* shape, std::vector<float>* data) {
  const std::string bytes = readFile(path);
  if (bytes.size() < 8)
    return false;
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i)
    header_size = header_size << 8 | static_cast<unsigned char>(bytes[i]);
  if (8 + header_size > bytes.size())
    return false;
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_size), nullptr, false);
  if (header.is_discarded() || !header.contains("logits") ||
      header["logits"]["dtype"] != "F32")
    return false;
  *shape = header["logits"]["shape"].get<std::vector<int64_t>>();
  std::vector<uint64_t> offsets = header["logits"]["data_offsets"].get<std::vector<uint64_t>>();
  if (offsets.size() != 2 || 8 + header_size + offsets[1] != bytes.size())
    return false;
  data->resize((offsets[1] - offsets[0]) / sizeof(float));
  std::memcpy(data->data(), bytes.data() + 8 + header_size + offsets[0],
              data->size() * sizeof(float));
  return true;
}

class TernEndToEnd : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    directory_ = ::testing::TempDir() + "/tern_cli_e2e_" + std::to_string(getpid());
    mkdir(directory_.c_str(), 0755);
    artifact_ = directory_ + "/stories260K.tern";
    compile_ = runProcess(TERNC_PATH, {"compile", TERN_STORIES_GGUF, "-o", artifact_});
  }

  void SetUp() override {
    ASSERT_EQ(compile_.exit_code, 0) << "ternc compile failed:\n" << compile_.err;
    ASSERT_TRUE(exists(artifact_));
  }

  static ProcessResult tern(std::vector<std::string> arguments, const std::string& input = "") {
    arguments.insert(arguments.begin() + 1, artifact_);
    return runProcess(TERN_CLI_PATH, arguments, input);
  }

  // The compiled model's description, through the C API.
  static tern_model_info_t modelInfo() {
    tern_model_info_t info{};
    tern_model_t* model = nullptr;
    tern_status_t status = tern_model_open(artifact_.c_str(), nullptr, &model);
    EXPECT_TRUE(tern_status_ok(status)) << tern_status_message(status);
    tern_status_free(status);
    if (model) {
      tern_model_info(model, &info);
      tern_model_release(model);
    }
    return info;
  }

  static std::string directory_;
  static std::string artifact_;
  static ProcessResult compile_;
};

std::string TernEndToEnd::directory_;
std::string TernEndToEnd::artifact_;
ProcessResult TernEndToEnd::compile_;

TEST_F(TernEndToEnd, GreedyRunPrintsTheArgmaxChainOfTernLogits) {
  constexpr int kSteps = 8;
  ProcessResult run = tern({"run", "-p", kPrompt, "-n", std::to_string(kSteps), "--temp", "0"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("generation: "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("tok/s"), std::string::npos) << run.err;

  // The same chain, one `tern logits` call per step, detokenized through the C API.
  tern_model_t* model = nullptr;
  tern_status_t status = tern_model_open(artifact_.c_str(), nullptr, &model);
  ASSERT_TRUE(tern_status_ok(status)) << tern_status_message(status);
  std::vector<int32_t> tokens(64);
  size_t count = 0;
  status = tern_model_tokenize(model, kPrompt, std::strlen(kPrompt), 1, 1, tokens.data(),
                               tokens.size(), &count);
  ASSERT_TRUE(tern_status_ok(status)) << tern_status_message(status);
  tokens.resize(count);

  std::string expected = kPrompt;
  const std::string output = directory_ + "/chain.safetensors";
  for (int step = 0; step < kSteps; ++step) {
    std::string list;
    for (int32_t token : tokens) {
      if (!list.empty())
        list += ',';
      list += std::to_string(token);
    }
    ProcessResult logits = tern({"logits", "--tokens", list, "-o", output});
    ASSERT_EQ(logits.exit_code, 0) << logits.err;
    std::vector<int64_t> shape;
    std::vector<float> data;
    ASSERT_TRUE(readLogits(output, &shape, &data));
    ASSERT_EQ(shape.size(), 2u);
    ASSERT_EQ(shape[0], static_cast<int64_t>(tokens.size()));
    const float* last = data.data() + (shape[0] - 1) * shape[1];
    const int32_t next = static_cast<int32_t>(std::max_element(last, last + shape[1]) - last);
    if (tern_model_is_end_of_generation(model, next))
      break;
    char piece[256];
    size_t length = 0;
    status = tern_model_token_to_piece(model, next, piece, sizeof(piece), &length);
    ASSERT_TRUE(tern_status_ok(status)) << tern_status_message(status);
    expected.append(piece, length);
    tokens.push_back(next);
  }
  tern_model_release(model);
  EXPECT_EQ(run.out, expected + "\n");
}

TEST_F(TernEndToEnd, GreedyRunMatchesLlamaCpp) {
  const std::string golden = std::string(TERN_SHARED_DATA_DIR) + "/golden/stories260K.greedy.json";
  if (!exists(golden))
    GTEST_SKIP() << "no golden file " << golden;
  nlohmann::json reference = nlohmann::json::parse(readFile(golden), nullptr, false);
  ASSERT_FALSE(reference.is_discarded());
  const std::string prompt = reference["prompt"].get<std::string>();
  const std::string completion = reference["completion"].get<std::string>();
  ProcessResult run = tern({"run", "-p", prompt, "-n",
                            std::to_string(reference["n_predict"].get<int>()), "--temp", "0"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out.substr(0, prompt.size() + completion.size()), prompt + completion);
}

TEST_F(TernEndToEnd, ReferenceKernelsGiveTheSameGreedyText) {
  ProcessResult generated = tern({"run", "-p", kPrompt, "-n", "12", "--temp", "0"});
  ProcessResult reference =
      tern({"run", "-p", kPrompt, "-n", "12", "--temp", "0", "--kernels", "reference"});
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  EXPECT_EQ(generated.out, reference.out);
}

TEST_F(TernEndToEnd, SameSeedSamplesTheSameText) {
  std::vector<std::string> arguments = {"run", "-p", kPrompt, "-n", "16", "--temp", "1.0",
                                        "--seed", "1234"};
  ProcessResult first = tern(arguments);
  ProcessResult second = tern(arguments);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, second.out);
  EXPECT_NE(first.err.find("seed: 1234"), std::string::npos);
}

TEST_F(TernEndToEnd, LogitsFileHasOneRowPerToken) {
  const std::string output = directory_ + "/rows.safetensors";
  ProcessResult result = tern({"logits", "--tokens", "1,403,407", "-o", output});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<int64_t> shape;
  std::vector<float> data;
  ASSERT_TRUE(readLogits(output, &shape, &data));
  EXPECT_EQ(shape, (std::vector<int64_t>{3, 512}));
  EXPECT_EQ(data.size(), 3u * 512u);
  EXPECT_FALSE(exists(output + ".tmp." + std::to_string(getpid())));
}

// One window covering the whole text: the perplexity is exp of the mean of -log softmax of
// each next token, computed here from `tern logits` of the same tokens.
TEST_F(TernEndToEnd, PerplexityOfOneWindowMatchesTheLogits) {
  const std::string text = "Once upon a time, there was a little girl named Lily. She loved to "
                           "play outside in the park with her dog.";
  const std::string textFile = directory_ + "/story.txt";
  std::ofstream(textFile) << text;
  ProcessResult result = tern({"perplexity", "-f", textFile, "--ctx", "256", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  nlohmann::json report = nlohmann::json::parse(result.out);
  const int64_t tokens = report["tokens"];
  ASSERT_GT(tokens, 10);
  EXPECT_EQ(report["tokens_scored"], tokens - 1);
  EXPECT_EQ(report["windows"], 1);

  tern_model_t* model = nullptr;
  ASSERT_TRUE(tern_status_ok(tern_model_open(artifact_.c_str(), nullptr, &model)));
  std::vector<int32_t> ids(text.size() + 2);
  size_t count = 0;
  ASSERT_TRUE(tern_status_ok(tern_model_tokenize(model, text.data(), text.size(), 1, 0,
                                                 ids.data(), ids.size(), &count)));
  tern_model_release(model);
  ids.resize(count);
  ASSERT_EQ(int64_t(count), tokens);
  std::string list;
  for (int32_t id : ids)
    list += (list.empty() ? "" : ",") + std::to_string(id);
  const std::string output = directory_ + "/story.safetensors";
  ASSERT_EQ(tern({"logits", "--tokens", list, "-o", output}).exit_code, 0);
  std::vector<int64_t> shape;
  std::vector<float> logits;
  ASSERT_TRUE(readLogits(output, &shape, &logits));
  const int64_t vocab = shape[1];
  double nll = 0;
  for (size_t j = 1; j < ids.size(); ++j) {
    const float* row = logits.data() + (j - 1) * vocab;
    double max = row[0], sum = 0;
    for (int64_t i = 1; i < vocab; ++i)
      max = std::max(max, double(row[i]));
    for (int64_t i = 0; i < vocab; ++i)
      sum += std::exp(double(row[i]) - max);
    nll += max + std::log(sum) - row[ids[j]];
  }
  EXPECT_NEAR(double(report["perplexity"]), std::exp(nll / double(ids.size() - 1)), 1e-6);
}

TEST_F(TernEndToEnd, PerplexityRejectsBadWindows) {
  const std::string textFile = directory_ + "/short.txt";
  std::ofstream(textFile) << "Once upon a time";
  ProcessResult stride = tern({"perplexity", "-f", textFile, "--ctx", "16", "--stride", "32"});
  EXPECT_EQ(stride.exit_code, 2);
  EXPECT_NE(stride.err.find("--stride (32) must not exceed --ctx (16)"), std::string::npos)
      << stride.err;
  ProcessResult missing = tern({"perplexity", "-f", directory_ + "/absent.txt"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot read the text file"), std::string::npos) << missing.err;
  ProcessResult noFile = tern({"perplexity"});
  EXPECT_EQ(noFile.exit_code, 2);
  EXPECT_NE(noFile.err.find("missing -f TEXT"), std::string::npos) << noFile.err;
}

TEST_F(TernEndToEnd, BenchJsonHasEveryField) {
  ProcessResult result = tern({"bench", "-p", "16", "-n", "8", "-r", "2", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  nlohmann::json bench = nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_FALSE(bench.is_discarded()) << result.out;
  EXPECT_EQ(bench["model"], artifact_);
  EXPECT_EQ(bench["p"], 16);
  EXPECT_EQ(bench["n"], 8);
  EXPECT_GT(bench["prefill_tok_s"].get<double>(), 0.0);
  EXPECT_GT(bench["decode_tok_s"].get<double>(), 0.0);
  EXPECT_GE(bench["prefill_tok_s_stddev"].get<double>(), 0.0);
  EXPECT_GE(bench["decode_tok_s_stddev"].get<double>(), 0.0);
  EXPECT_GT(bench["weight_bytes"].get<uint64_t>(), 0u);
  EXPECT_GE(bench["threads"].get<int>(), 1);
  EXPECT_TRUE(bench["target_cpu"].is_string());
  EXPECT_FALSE(bench.contains("profile")); // only with --profile
  // Startup and memory.
  tern_model_info_t info = modelInfo();
  EXPECT_EQ(bench["context_length"].get<int64_t>(), info.context_length);
  const double load = bench["load_seconds"].get<double>();
  EXPECT_GT(load, 0.0);
  EXPECT_GT(bench["first_token_seconds"].get<double>(), load);
  EXPECT_EQ(bench["weights_bytes"].get<uint64_t>(), info.weight_bytes);
  EXPECT_EQ(bench["weights_bytes"], bench["weight_bytes"]);
  EXPECT_EQ(bench["kv_cache_bytes"].get<uint64_t>(), info.kv_cache_bytes);
  EXPECT_EQ(bench["arena_bytes"].get<uint64_t>(), info.arena_bytes);
  // Linux: the peak resident set covers at least the arena, which every run writes.
  ASSERT_TRUE(bench.contains("peak_rss_bytes")) << result.out;
  EXPECT_GT(bench["peak_rss_bytes"].get<uint64_t>(), info.arena_bytes);
  // A CPU artifact runs on the cpu device, which holds no GPU memory.
  EXPECT_EQ(bench["device"], "cpu");
  EXPECT_EQ(bench["device_memory_bytes"], 0);
}

TEST_F(TernEndToEnd, CudaOnACpuArtifactSaysHowToCompileForTheGpu) {
  for (const char* command : {"run", "bench"}) {
    std::vector<std::string> arguments = {command, "--device", "cuda"};
    if (std::string(command) == "run")
      arguments.insert(arguments.end(), {"-p", kPrompt});
    ProcessResult result = tern(arguments);
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_NE(result.err.find("INVALID_ARGUMENT: " + artifact_ + ": compiled for the CPU"),
              std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find("ternc compile --target=sm_90"), std::string::npos) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
  // --device cpu is what auto picks for it.
  ProcessResult cpu = tern({"bench", "-p", "8", "-n", "4", "-r", "1", "--device", "cpu",
                            "--json"});
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  EXPECT_NE(cpu.out.find("\"device\":\"cpu\""), std::string::npos) << cpu.out;
}

TEST_F(TernEndToEnd, BenchSessionContextSizesTheKVCache) {
  tern_model_info_t info = modelInfo();
  ProcessResult result = tern({"bench", "-p", "16", "-n", "8", "-r", "1", "-c", "24", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  nlohmann::json bench = nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_FALSE(bench.is_discarded()) << result.out;
  EXPECT_EQ(bench["context_length"], 24);
  EXPECT_EQ(bench["kv_cache_bytes"].get<uint64_t>() * uint64_t(info.context_length),
            info.kv_cache_bytes * 24u);

  ProcessResult too_short = tern({"bench", "-p", "16", "-n", "8", "-c", "12"});
  EXPECT_EQ(too_short.exit_code, 2);
  EXPECT_NE(too_short.err.find("-p is 16 but the session's context holds 12"), std::string::npos)
      << too_short.err;
  ProcessResult too_long = tern({"bench", "-c", std::to_string(info.context_length + 1)});
  EXPECT_EQ(too_long.exit_code, 2);
  EXPECT_NE(too_long.err.find("--ctx-size is"), std::string::npos) << too_long.err;

  // The text form prints startup and memory too.
  ProcessResult text = tern({"bench", "-p", "8", "-n", "4", "-r", "1"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("startup: load "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(", peak RSS "), std::string::npos) << text.out;
}

// Checks the "profile"."<test>" object of `tern bench --json` against the artifact's plan of
// |entry|: every kernel once, calls = dispatches x runs (the logits-only dispatches only in the
// last run of a unit, the one whose logits are kept), shares adding up to one.
void expectProfileMatchesPlan(const nlohmann::json& test, const tern::test::EntryPlan& plan,
                              const std::string& unit, int64_t units, uint64_t runs_per_unit) {
  auto perUnit = [&](uint64_t dispatches, uint64_t logits_only) {
    return dispatches * runs_per_unit - logits_only * (runs_per_unit - 1);
  };
  ASSERT_TRUE(test.is_object()) << test.dump();
  EXPECT_EQ(test[unit + "s"], units);
  ASSERT_EQ(test["kernels"].size(), plan.kernels.size()) << test.dump();
  double share = 0, ms = 0, calls_per_unit = 0;
  for (const nlohmann::json& kernel : test["kernels"]) {
    const std::string symbol = kernel["symbol"].get<std::string>();
    SCOPED_TRACE(symbol);
    ASSERT_EQ(plan.kernels.count(symbol), 1u);
    const tern::test::PlannedKernel& planned = plan.kernels.at(symbol);
    EXPECT_EQ(kernel["family"], planned.family);
    const uint64_t calls = perUnit(planned.dispatches, planned.logitsOnly);
    EXPECT_EQ(kernel["calls"].get<uint64_t>(), calls * units);
    EXPECT_DOUBLE_EQ(kernel["calls_per_" + unit].get<double>(), double(calls));
    EXPECT_EQ(kernel["weight_bytes_per_call"].get<uint64_t>(), planned.weightBytesPerCall);
    const double seconds = kernel["seconds"].get<double>();
    EXPECT_GT(seconds, 0.0);
    EXPECT_DOUBLE_EQ(kernel["ms_per_" + unit].get<double>(), seconds * 1e3 / double(units));
    const double bytes = double(kernel["calls"].get<uint64_t>()) *
                         (double(planned.weightBytesPerCall) +
                          kernel["kv_cache_bytes_per_call"].get<double>());
    EXPECT_NEAR(kernel["gb_per_s"].get<double>(), bytes / seconds / 1e9,
                1e-9 * kernel["gb_per_s"].get<double>());
    if (planned.family == "attention")
      EXPECT_GT(kernel["kv_cache_bytes_per_call"].get<double>(), 0.0);
    else
      EXPECT_EQ(kernel["kv_cache_bytes_per_call"].get<double>(), 0.0);
    share += kernel["share"].get<double>();
    ms += kernel["ms_per_" + unit].get<double>();
    calls_per_unit += kernel["calls_per_" + unit].get<double>();
  }
  EXPECT_NEAR(share, 1.0, 1e-9);
  EXPECT_NEAR(test["ms_per_" + unit].get<double>(), ms, 1e-9 * ms);
  EXPECT_DOUBLE_EQ(calls_per_unit, double(perUnit(plan.dispatches, plan.logitsOnly)));
  EXPECT_GT(test["timed_ms_per_" + unit].get<double>(), 0.0);
}

TEST_F(TernEndToEnd, BenchProfileJsonMatchesThePlan) {
  tern_status_t status = nullptr;
  std::unique_ptr<tern::Artifact> artifact = tern::Artifact::open(artifact_.c_str(), &status);
  ASSERT_NE(artifact, nullptr) << tern_status_message(status);
  tern::test::EntryPlan decode, prefill;
  ASSERT_TRUE(tern::test::readEntryPlan(*artifact, "decode", &decode));
  ASSERT_TRUE(tern::test::readEntryPlan(*artifact, "prefill", &prefill));
  // A prompt of max_rows + 1 tokens is two prefill chunks: two runs of every dispatch but the
  // logits-only ones, which only the second chunk runs.
  ASSERT_GT(prefill.logitsOnly, 0u);
  const int64_t prompt = prefill.maxRows + 1;

  ProcessResult result = tern({"bench", "-p", std::to_string(prompt), "-n", "8", "-r", "2",
                               "--profile", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  nlohmann::json bench = nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_FALSE(bench.is_discarded()) << result.out;
  EXPECT_GT(bench["decode_tok_s"].get<double>(), 0.0); // the usual fields stay
  const nlohmann::json& profile = bench["profile"];
  EXPECT_EQ(profile["repetitions"], 2);
  EXPECT_EQ(profile["decode"]["entry_points"], nlohmann::json::array({"decode"}));
  EXPECT_EQ(profile["prefill"]["entry_points"], nlohmann::json::array({"prefill"}));
  expectProfileMatchesPlan(profile["decode"], decode, "token", 16, 1);
  expectProfileMatchesPlan(profile["prefill"], prefill, "prefill", 2, 2);
}

TEST_F(TernEndToEnd, BenchProfilePrintsATablePerTest) {
  ProcessResult result = tern({"bench", "-p", "8", "-n", "4", "-r", "1", "--profile"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const size_t decode = result.out.find("decode  n=4 ");
  const size_t prefill_table = result.out.find("\nprefill profile: 1 prefills, entry point 'prefill'");
  const size_t decode_table = result.out.find("\ndecode profile: 4 tokens, entry point 'decode'");
  ASSERT_NE(decode, std::string::npos) << result.out;
  ASSERT_NE(prefill_table, std::string::npos) << result.out;
  ASSERT_NE(decode_table, std::string::npos) << result.out;
  EXPECT_LT(decode, prefill_table); // the usual lines come first
  EXPECT_LT(prefill_table, decode_table);
  EXPECT_NE(result.out.find("calls/tok"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find(" attention "), std::string::npos) << result.out;
  // Without --profile nothing changes.
  ProcessResult plain = tern({"bench", "-p", "8", "-n", "4", "-r", "1"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.find("profile"), std::string::npos) << plain.out;
}

TEST_F(TernEndToEnd, ChatAnswersEveryLineOfStdin) {
  ProcessResult result = tern({"chat", "--temp", "0", "-n", "6"}, "Hello\n\nTell me a story\n");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // Two non-empty messages: two replies, each ended by a newline.
  EXPECT_GE(std::count(result.out.begin(), result.out.end(), '\n'), 2) << result.out;
}

TEST_F(TernEndToEnd, PromptLongerThanTheContextIsAClearError) {
  std::string prompt;
  for (int i = 0; i < 3000; ++i)
    prompt += "Once upon a time ";
  ProcessResult result = tern({"run", "-p", prompt, "-n", "4"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("the model's context holds"), std::string::npos) << result.err;
}

TEST_F(TernEndToEnd, TokenOutsideTheVocabularyIsAClearError) {
  ProcessResult result = tern({"logits", "--tokens", "1,99999", "-o", directory_ + "/x"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("id 99999 is outside the vocabulary (512 tokens)"), std::string::npos)
      << result.err;
}

} // namespace
