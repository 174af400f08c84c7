// One kernel: its exported symbol, family and parameters (docs/kernels.md). The compiler's
// program builder makes these from the graph, backends generate code for them and the
// runtime's reference twins run from them.
#ifndef TERN_RUNTIME_KERNELS_KERNELSPEC_H
#define TERN_RUNTIME_KERNELS_KERNELSPEC_H

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

namespace tern {

struct KernelSpec {
  std::string symbol; // exported C name, unique in its library
  std::string family; // embedding, rms_norm, ternary_matmul, ... (docs/kernels.md)
  std::map<std::string, int64_t> ints;
  std::map<std::string, double> floats;
  std::map<std::string, std::string> strings;

  int64_t getInt(const std::string &name, int64_t fallback = 0) const {
    auto it = ints.find(name);
    return it == ints.end() ? fallback : it->second;
  }
  double getFloat(const std::string &name, double fallback = 0) const {
    auto it = floats.find(name);
    return it == floats.end() ? fallback : it->second;
  }
  std::string getString(const std::string &name, const std::string &fallback = "") const {
    auto it = strings.find(name);
    return it == strings.end() ? fallback : it->second;
  }
  bool operator<(const KernelSpec &other) const {
    return std::tie(family, ints, floats, strings) <
           std::tie(other.family, other.ints, other.floats, other.strings);
  }
};

// Families whose rows are independent: on a CPU they may take one work item per row (parameter
// row_items, docs/kernels.md), so threads split the rows of a prefill call.
inline bool isRowWiseFamily(const std::string &family) {
  return family == "rms_norm" || family == "rms_norm_quantize" || family == "layer_norm" ||
         family == "quantize_act" || family == "rope" || family == "kv_cache_write";
}

} // namespace tern

#endif
