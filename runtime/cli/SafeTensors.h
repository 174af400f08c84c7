// Writes float32 tensors as a SafeTensors file (8-byte header length, JSON header, raw data).
#ifndef TERN_CLI_SAFETENSORS_H
#define TERN_CLI_SAFETENSORS_H

#include <cstdint>
#include <string>
#include <vector>

namespace tern::cli {

struct F32Tensor {
  std::string name;
  std::vector<int64_t> shape;
  const float* data; // product(shape) floats
};

// Writes |tensors| to |path| through a temporary file renamed into place, so a reader never
// sees half a file. Returns false with |*error| set on failure.
bool writeSafeTensors(const std::string& path, const std::vector<F32Tensor>& tensors,
                      std::string* error);

} // namespace tern::cli

#endif // TERN_CLI_SAFETENSORS_H
