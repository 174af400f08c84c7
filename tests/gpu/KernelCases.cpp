// The registry of GPU kernel case groups and the helpers cases share.
#include "tests/gpu/KernelCases.h"

#include <cstring>

namespace tern::gpu::test {

std::vector<KernelCase> elementwiseCases(std::mt19937 &rng);
#ifdef TERN_GPU_CASES_NORM
// rms_norm, rms_norm_quantize, layer_norm, quantize_act
std::vector<KernelCase> normCases(std::mt19937 &rng);
#endif
#ifdef TERN_GPU_CASES_SEQUENCE
// embedding, position_embedding, rope, kv_cache_write, rope_kv_cache_write, attention
std::vector<KernelCase> sequenceCases(std::mt19937 &rng);
#endif
#ifdef TERN_GPU_CASES_MATMUL
std::vector<KernelCase> matmulCases(std::mt19937 &rng); // ternary_matmul, matmul, quantized_matmul
#endif

std::vector<CaseGroup> kernelCaseGroups() {
  std::vector<CaseGroup> groups = {{"elementwise", elementwiseCases}};
#ifdef TERN_GPU_CASES_NORM
  groups.push_back({"norm", normCases});
#endif
#ifdef TERN_GPU_CASES_SEQUENCE
  groups.push_back({"sequence", sequenceCases});
#endif
#ifdef TERN_GPU_CASES_MATMUL
  groups.push_back({"matmul", matmulCases});
#endif
  return groups;
}

std::vector<uint8_t> randomF32Bytes(std::mt19937 &rng, size_t count, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> values(count);
  for (float &v : values)
    v = dist(rng);
  return bytesOf(values);
}

std::vector<uint8_t> poisonedBytes(size_t bytes) { return std::vector<uint8_t>(bytes, 0xFF); }

} // namespace tern::gpu::test
