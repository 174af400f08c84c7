// The linked list of characters both BPE variants merge over.
#ifndef TERN_RUNTIME_TOKENIZER_MERGESYMBOLS_H
#define TERN_RUNTIME_TOKENIZER_MERGESYMBOLS_H

#include "Unicode.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace tern::tok {

// One character (later: a merged run of characters) in a doubly linked list over a text.
struct Symbol {
  int32_t prev, next; // neighbour indices, -1 at the ends
  uint32_t begin;     // byte offset in the text
  uint32_t size;      // bytes; 0 once merged into the left neighbour
};

// One symbol per UTF-8 character of |text|, linked in order (a truncated sequence at the end
// becomes one short symbol).
inline std::vector<Symbol> splitIntoSymbols(const std::string &text) {
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    size_t len = std::min(utf8SequenceLength(static_cast<uint8_t>(text[offset])),
                          text.size() - offset);
    int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, offset + len == text.size() ? -1 : index + 1,
                       static_cast<uint32_t>(offset), static_cast<uint32_t>(len)});
    offset += len;
  }
  return symbols;
}

} // namespace tern::tok

#endif
