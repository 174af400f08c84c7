// Splits text into the words byte-level BPE merges within (GPT-2 and LLaMA-3 regexes, by hand).
#ifndef TERN_TOKENIZER_PRETOKENIZER_H
#define TERN_TOKENIZER_PRETOKENIZER_H

#include "tern/tokenizer/Tokenizer.h"

#include <string>
#include <utility>
#include <vector>

namespace tern::tok {

// Byte ranges (begin, end) of |text|, in order, covering it completely.
std::vector<std::pair<size_t, size_t>> splitWords(const std::string &text, PreTokenizer kind);

} // namespace tern::tok

#endif
