// SafeTensors writer: little-endian u64 header size, JSON header padded to 8 bytes, data.
#include "SafeTensors.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace tern::cli {
namespace {

bool writeAll(std::FILE* file, const void* data, size_t size) {
  return size == 0 || std::fwrite(data, 1, size, file) == size;
}

} // namespace

bool writeSafeTensors(const std::string& path, const std::vector<F32Tensor>& tensors,
                      std::string* error) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  uint64_t offset = 0;
  for (const F32Tensor& tensor : tensors) {
    uint64_t elements = 1;
    for (int64_t dim : tensor.shape)
      elements *= static_cast<uint64_t>(dim);
    const uint64_t bytes = elements * sizeof(float);
    header[tensor.name] = {{"dtype", "F32"},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Spaces after the JSON keep the data 8-byte aligned, as the reference writer does.
  text.resize((text.size() + 7) / 8 * 8, ' ');

  unsigned char length[8];
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));

  const std::string temporary = path + ".tmp." + std::to_string(getpid());
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (!file) {
    *error = "cannot create '" + temporary + "': " + std::strerror(errno);
    return false;
  }
  bool ok = writeAll(file, length, sizeof(length)) && writeAll(file, text.data(), text.size());
  for (const F32Tensor& tensor : tensors) {
    uint64_t elements = 1;
    for (int64_t dim : tensor.shape)
      elements *= static_cast<uint64_t>(dim);
    // SafeTensors data is little-endian, as float32 is on every host the runtime targets.
    ok = ok && writeAll(file, tensor.data, elements * sizeof(float));
  }
  if (std::fclose(file) != 0)
    ok = false;
  if (!ok) {
    *error = "cannot write '" + temporary + "': " + std::strerror(errno);
    std::remove(temporary.c_str());
    return false;
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    *error = "cannot rename '" + temporary + "' to '" + path + "': " + std::strerror(errno);
    std::remove(temporary.c_str());
    return false;
  }
  return true;
}

} // namespace tern::cli
