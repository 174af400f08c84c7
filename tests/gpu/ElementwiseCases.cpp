// Cases for add, mul, bias_add, relu, relu2, silu, gelu and glu.
#include "tests/gpu/KernelCases.h"

namespace tern::gpu::test {

std::vector<KernelCase> elementwiseCases(std::mt19937 &rng) {
  std::vector<KernelCase> cases;
  std::uniform_int_distribution<int64_t> widths(1, 3000);
  const int64_t maxRows = 64;
  for (const char *family : {"add", "mul", "bias_add", "relu", "relu2", "silu", "gelu", "glu"}) {
    for (int64_t rows : {int64_t(1), int64_t(37)}) {
      const int64_t width = family == std::string("glu") ? 6912 : widths(rng);
      KernelCase c;
      c.spec.family = family;
      c.spec.symbol = std::string("ew_") + family + "_" + std::to_string(rows);
      c.spec.ints["width"] = width;
      c.rows = rows;
      c.maxRows = maxRows;
      c.name = std::string(family) + " width " + std::to_string(width) + " rows " +
               std::to_string(rows);
      const size_t elements = size_t(rows * width);
      if (family == std::string("glu")) {
        const int64_t stride = 2 * width;
        c.spec.ints["in_stride"] = stride;
        c.spec.strings["activation"] = rows == 1 ? "relu2" : "silu";
        // gate and up are the two halves of one (rows, 2 * width) matmul output.
        auto gateUp = randomF32Bytes(rng, size_t(rows * stride), 4.0f);
        c.bindings = {gateUp, std::vector<uint8_t>(gateUp.begin() + width * 4, gateUp.end()),
                      poisonedBytes(elements * 4)};
        c.outputs = {{2, Compare::Float32, 1e-6}};
      } else if (family == std::string("bias_add")) {
        // Decode reads a contiguous row; prefill the middle third of a fused (rows, 3 * width)
        // QKV output (OPT, Qwen: each projection has its bias).
        const int64_t stride = rows == 1 ? width : 3 * width;
        c.spec.ints["x_stride"] = stride;
        auto fused = randomF32Bytes(rng, size_t(rows * stride), 4.0f);
        const size_t offset = rows == 1 ? 0 : size_t(width) * 4;
        c.bindings = {std::vector<uint8_t>(fused.begin() + offset, fused.end()),
                      randomF32Bytes(rng, size_t(width), 2.0f), poisonedBytes(elements * 4)};
        c.outputs = {{2, Compare::Exact}}; // one float add, as in the reference
      } else if (family == std::string("add") || family == std::string("mul")) {
        c.bindings = {randomF32Bytes(rng, elements, 3.0f), randomF32Bytes(rng, elements, 3.0f),
                      poisonedBytes(elements * 4)};
        c.outputs = {{2, Compare::Float32, 1e-7}};
      } else {
        c.bindings = {randomF32Bytes(rng, elements, 6.0f), poisonedBytes(elements * 4)};
        // relu selects x or +0 exactly; the others approximate exp.
        if (family == std::string("relu"))
          c.outputs = {{1, Compare::Exact}};
        else
          c.outputs = {{1, Compare::Float32, 1e-6}};
      }
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

} // namespace tern::gpu::test
