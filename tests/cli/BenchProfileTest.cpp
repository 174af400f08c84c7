// Tests of `tern bench --profile`'s figures, table and JSON on hand-made profile records.
#include "BenchProfile.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace tern::cli {
namespace {

tern_profile_record_t record(const char* symbol, const char* family, uint64_t calls,
                             double seconds, uint64_t weight_per_call, uint64_t kv_bytes) {
  tern_profile_record_t r{};
  r.entry_point = "decode";
  r.symbol = symbol;
  r.family = family;
  r.entry_runs = 10;
  r.calls = calls;
  r.seconds = seconds;
  r.weight_bytes = weight_per_call * calls;
  r.weight_bytes_per_call = weight_per_call;
  r.kv_cache_bytes = kv_bytes;
  return r;
}

// 10 decode tokens: a matmul twice per token reading 1 MB a call, attention once per token
// reading 4 MB of cache in all, the embedding once per token.
TestProfile decodeProfile() {
  TestProfile profile;
  profile.test = "decode";
  profile.unit = "token";
  profile.units = 10;
  profile.timed_ms_per_unit = 0.5;
  profile.kernels = {record("k_matmul", "ternary_matmul", 20, 0.003, 1000000, 0),
                     record("k_attention", "attention", 10, 0.001, 0, 4000000),
                     record("k_embedding", "embedding", 10, 0.0001, 131072, 0)};
  return profile;
}

// The whitespace-separated fields of the line of |text| that starts with |first|.
std::vector<std::string> rowOf(const std::string& text, const std::string& first) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string word; words >> word;)
      fields.push_back(word);
    if (!fields.empty() && fields[0] == first)
      return fields;
  }
  return {};
}

TEST(BenchProfile, FiguresDivideByUnitsAndTime) {
  const TestProfile profile = decodeProfile();
  const double total = totalSeconds(profile);
  EXPECT_DOUBLE_EQ(total, 0.0041);
  const KernelFigures matmul = kernelFigures(profile, profile.kernels[0], total);
  EXPECT_DOUBLE_EQ(matmul.calls_per_unit, 2.0);
  EXPECT_DOUBLE_EQ(matmul.ms_per_unit, 0.3);
  EXPECT_DOUBLE_EQ(matmul.share, 0.003 / 0.0041);
  EXPECT_DOUBLE_EQ(matmul.gb_per_s, 2e7 / 0.003 / 1e9);
  EXPECT_DOUBLE_EQ(matmul.kv_cache_bytes_per_call, 0.0);
  const KernelFigures attention = kernelFigures(profile, profile.kernels[1], total);
  EXPECT_DOUBLE_EQ(attention.kv_cache_bytes_per_call, 400000.0);
  EXPECT_DOUBLE_EQ(attention.gb_per_s, 4.0); // KV-cache bytes count: 4 MB in 1 ms
}

TEST(BenchProfile, TableHasOneRowPerKernelAndATotal) {
  const std::string table = formatProfileTable(decodeProfile());
  EXPECT_EQ(table.rfind("decode profile: 10 tokens, entry point 'decode'", 0), 0u) << table;
  EXPECT_EQ(rowOf(table, "kernel"),
            (std::vector<std::string>{"kernel", "family", "calls/tok", "ms/tok", "share",
                                      "weight", "MB/call", "KV", "MB/call", "GB/s"}));
  EXPECT_EQ(rowOf(table, "k_matmul"), (std::vector<std::string>{"k_matmul", "ternary_matmul",
                                                                "2.00", "0.3000", "73.2%", "1",
                                                                "-", "6.67"}));
  EXPECT_EQ(rowOf(table, "k_attention"),
            (std::vector<std::string>{"k_attention", "attention", "1.00", "0.1000", "24.4%", "-",
                                      "0.4", "4.00"}));
  // The embedding gathers rows of a table it binds whole: marked, with a footnote.
  EXPECT_EQ(rowOf(table, "k_embedding"),
            (std::vector<std::string>{"k_embedding", "*", "embedding", "1.00", "0.0100", "2.4%",
                                      "0.1311", "-", "13.11"}));
  EXPECT_NE(table.find("\n* binds a whole table"), std::string::npos) << table;
  EXPECT_EQ(rowOf(table, "total"), (std::vector<std::string>{"total", "4.00", "0.4100",
                                                             "100.0%", "(timed", "runs:",
                                                             "0.5000", "ms/tok)"}));
}

TEST(BenchProfile, JsonCarriesTheSameFigures) {
  const nlohmann::ordered_json json = profileJson(decodeProfile());
  EXPECT_EQ(json["entry_points"], nlohmann::json::array({"decode"}));
  EXPECT_EQ(json["tokens"], 10);
  EXPECT_DOUBLE_EQ(json["seconds"].get<double>(), 0.0041);
  EXPECT_DOUBLE_EQ(json["ms_per_token"].get<double>(), 0.41);
  EXPECT_DOUBLE_EQ(json["timed_ms_per_token"].get<double>(), 0.5);
  ASSERT_EQ(json["kernels"].size(), 3u);
  const nlohmann::ordered_json& matmul = json["kernels"][0];
  EXPECT_EQ(matmul["entry_point"], "decode");
  EXPECT_EQ(matmul["symbol"], "k_matmul");
  EXPECT_EQ(matmul["family"], "ternary_matmul");
  EXPECT_EQ(matmul["calls"], 20);
  EXPECT_DOUBLE_EQ(matmul["calls_per_token"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(matmul["seconds"].get<double>(), 0.003);
  EXPECT_DOUBLE_EQ(matmul["ms_per_token"].get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(matmul["share"].get<double>(), 0.003 / 0.0041);
  EXPECT_EQ(matmul["weight_bytes_per_call"], 1000000);
  EXPECT_DOUBLE_EQ(matmul["kv_cache_bytes_per_call"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(matmul["gb_per_s"].get<double>(), 2e7 / 0.003 / 1e9);
  EXPECT_DOUBLE_EQ(json["kernels"][1]["kv_cache_bytes_per_call"].get<double>(), 400000.0);
}

TEST(BenchProfile, PrefillUsesPerPrefillKeys) {
  TestProfile profile = decodeProfile();
  profile.test = "prefill";
  profile.unit = "prefill";
  profile.units = 2;
  const nlohmann::ordered_json json = profileJson(profile);
  EXPECT_EQ(json["prefills"], 2);
  EXPECT_DOUBLE_EQ(json["kernels"][0]["calls_per_prefill"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(json["kernels"][0]["ms_per_prefill"].get<double>(), 1.5);
  EXPECT_FALSE(json["kernels"][0].contains("calls_per_token"));
  EXPECT_EQ(rowOf(formatProfileTable(profile), "kernel")[2], "calls/prefill");
}

TEST(BenchProfile, EmptyProfileHasOnlyTheTotal) {
  TestProfile profile = decodeProfile();
  profile.kernels.clear();
  const std::string table = formatProfileTable(profile);
  EXPECT_NE(table.find("entry point none"), std::string::npos) << table;
  EXPECT_EQ(rowOf(table, "total")[1], "0.00");
  EXPECT_EQ(profileJson(profile)["kernels"].size(), 0u);
}

} // namespace
} // namespace tern::cli
