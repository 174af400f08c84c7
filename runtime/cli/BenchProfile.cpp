// `tern bench --profile` output: per-kernel figures of a session profile, as text and JSON.
#include "BenchProfile.h"

#include <algorithm>
#include <cstdio>

namespace tern::cli {
namespace {

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), pattern, value);
  return buffer;
}

// Families that bind a whole table but gather a few rows of it: `embedding` one row per token,
// `position_embedding`, `rope`, `rope_kv_cache_write` and `rope_kv_attention` one row per
// position. Their bound bytes, and a GB/s from them, overstate what they read (by about vocab /
// rows and positions / rows).
bool readsPartOfItsWeights(const char* family) {
  const std::string name = family ? family : "";
  return name == "embedding" || name == "position_embedding" || name == "rope" ||
         name == "rope_kv_cache_write" || name == "rope_kv_attention";
}

// Megabytes (1e6) with four significant digits, or "-" for none: a 256-byte norm weight must
// not print as 0.000.
std::string megabytes(double bytes) {
  return bytes > 0 ? format("%.4g", bytes / 1e6) : "-";
}

// "token" -> "tokens", for JSON keys and headings.
std::string plural(const std::string& unit) { return unit + "s"; }

std::vector<std::string> entryPoints(const TestProfile& profile) {
  std::vector<std::string> names;
  for (const tern_profile_record_t& record : profile.kernels)
    if (std::find(names.begin(), names.end(), record.entry_point) == names.end())
      names.push_back(record.entry_point);
  return names;
}

std::string padRight(std::string text, size_t width) {
  if (text.size() < width)
    text.resize(width, ' ');
  return text;
}

std::string padLeft(const std::string& text, size_t width) {
  return text.size() < width ? std::string(width - text.size(), ' ') + text : text;
}

} // namespace

double totalSeconds(const TestProfile& profile) {
  double total = 0;
  for (const tern_profile_record_t& record : profile.kernels)
    total += record.seconds;
  return total;
}

KernelFigures kernelFigures(const TestProfile& profile, const tern_profile_record_t& record,
                            double total_seconds) {
  KernelFigures figures;
  if (profile.units > 0) {
    figures.calls_per_unit = double(record.calls) / double(profile.units);
    figures.ms_per_unit = record.seconds * 1e3 / double(profile.units);
  }
  if (total_seconds > 0)
    figures.share = record.seconds / total_seconds;
  if (record.calls > 0)
    figures.kv_cache_bytes_per_call = double(record.kv_cache_bytes) / double(record.calls);
  if (record.seconds > 0)
    figures.gb_per_s =
        double(record.weight_bytes + record.kv_cache_bytes) / record.seconds / 1e9;
  return figures;
}

std::string formatProfileTable(const TestProfile& profile) {
  const std::string unit = profile.unit;
  std::string entries;
  for (const std::string& name : entryPoints(profile))
    entries += (entries.empty() ? "'" : ", '") + name + "'";
  std::string text = profile.test + " profile: " + std::to_string(profile.units) + " " +
                     plural(unit) + ", entry point " + (entries.empty() ? "none" : entries) +
                     "; GB/s counts weight and KV-cache bytes\n";

  size_t symbol_width = 6;
  bool footnote = false;
  for (const tern_profile_record_t& record : profile.kernels)
    symbol_width = std::max(symbol_width, std::string(record.symbol).size() + 2);
  const std::string per_unit = "/" + (unit == "token" ? std::string("tok") : unit);
  text += padRight("kernel", symbol_width) + "  " + padRight("family", 18) +
          padLeft("calls" + per_unit, 14) + padLeft("ms" + per_unit, 13) + padLeft("share", 8) +
          padLeft("weight MB/call", 16) + padLeft("KV MB/call", 12) + padLeft("GB/s", 9) + "\n";

  const double total = totalSeconds(profile);
  double total_calls = 0;
  for (const tern_profile_record_t& record : profile.kernels) {
    const KernelFigures figures = kernelFigures(profile, record, total);
    const bool partial = readsPartOfItsWeights(record.family);
    footnote = footnote || partial;
    total_calls += figures.calls_per_unit;
    text += padRight(std::string(record.symbol) + (partial ? " *" : ""), symbol_width) + "  " +
            padRight(record.family, 18) + padLeft(format("%.2f", figures.calls_per_unit), 14) +
            padLeft(format("%.4f", figures.ms_per_unit), 13) +
            padLeft(format("%.1f%%", figures.share * 100), 8) +
            padLeft(megabytes(double(record.weight_bytes_per_call)), 16) +
            padLeft(megabytes(figures.kv_cache_bytes_per_call), 12) +
            padLeft(figures.gb_per_s > 0 ? format("%.2f", figures.gb_per_s) : "-", 9) + "\n";
  }
  const double total_ms = profile.units > 0 ? total * 1e3 / double(profile.units) : 0;
  text += padRight("total", symbol_width) + "  " + padRight("", 18) +
          padLeft(format("%.2f", total_calls), 14) + padLeft(format("%.4f", total_ms), 13) +
          padLeft(profile.kernels.empty() ? "-" : "100.0%", 8) + "  (timed runs: " +
          format("%.4f", profile.timed_ms_per_unit) + " ms" + per_unit + ")\n";
  if (footnote)
    text += "* binds a whole table but reads only the rows of its tokens or positions: its MB/call "
            "and GB/s overstate what it reads\n";
  return text;
}

nlohmann::ordered_json profileJson(const TestProfile& profile) {
  const std::string unit = profile.unit;
  const double total = totalSeconds(profile);
  nlohmann::ordered_json json;
  json["entry_points"] = entryPoints(profile);
  json[plural(unit)] = profile.units;
  json["seconds"] = total;
  json["ms_per_" + unit] = profile.units > 0 ? total * 1e3 / double(profile.units) : 0.0;
  json["timed_ms_per_" + unit] = profile.timed_ms_per_unit;
  json["kernels"] = nlohmann::ordered_json::array();
  for (const tern_profile_record_t& record : profile.kernels) {
    const KernelFigures figures = kernelFigures(profile, record, total);
    nlohmann::ordered_json kernel;
    kernel["entry_point"] = record.entry_point;
    kernel["symbol"] = record.symbol;
    kernel["family"] = record.family;
    kernel["calls"] = record.calls;
    kernel["calls_per_" + unit] = figures.calls_per_unit;
    kernel["seconds"] = record.seconds;
    kernel["ms_per_" + unit] = figures.ms_per_unit;
    kernel["share"] = figures.share;
    kernel["weight_bytes_per_call"] = record.weight_bytes_per_call;
    kernel["kv_cache_bytes_per_call"] = figures.kv_cache_bytes_per_call;
    kernel["gb_per_s"] = figures.gb_per_s;
    json["kernels"].push_back(std::move(kernel));
  }
  return json;
}

} // namespace tern::cli
