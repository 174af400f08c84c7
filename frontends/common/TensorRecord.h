// A tensor as it sits in a model file: name, type, shape and a view of its bytes.
#ifndef TERN_FRONTENDS_COMMON_TENSORRECORD_H
#define TERN_FRONTENDS_COMMON_TENSORRECORD_H

#include "frontends/common/DType.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tern::fe {

struct TensorRecord {
  std::string name;
  DType dtype = DType::F32;
  // Row-major, outermost dimension first (numpy / PyTorch order). GGUF stores ne[] innermost
  // first; its reader reverses it, so a [out, in] linear weight is {out, in} for every format.
  std::vector<int64_t> shape;
  std::string file;         // file that holds the bytes
  uint64_t fileOffset = 0;  // absolute offset of the first byte in |file|
  uint64_t byteSize = 0;    // bytes the tensor occupies
  const uint8_t *data = nullptr; // mapped bytes; valid while the reader that produced it lives

  uint64_t elementCount() const {
    uint64_t n = 1;
    for (int64_t d : shape)
      n *= static_cast<uint64_t>(d);
    return n;
  }
};

} // namespace tern::fe

#endif
