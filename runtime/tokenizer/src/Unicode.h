// UTF-8 decoding and the letter/number/whitespace classes the BPE pre-tokenizers need.
#ifndef TERN_TOKENIZER_UNICODE_H
#define TERN_TOKENIZER_UNICODE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tern::tok {

// A code point with the byte span it came from, so words can be cut from the original bytes.
struct CodePoint {
  uint32_t cp;    // decoded value; kInvalidCodePoint for a byte that starts no valid sequence
  uint32_t begin; // byte offset in the text
  uint32_t size;  // bytes
};

constexpr uint32_t kInvalidCodePoint = 0xFFFD;

// Bytes in the UTF-8 sequence that |lead| starts (1 for continuation bytes), from its top nibble
// alone: the SentencePiece tokenizer splits text into characters this way.
size_t utf8SequenceLength(uint8_t lead);

// Decodes |text| as llama.cpp does: a lead byte whose continuation bytes are missing becomes one
// U+FFFD code point of one byte; overlong forms are not rejected.
std::vector<CodePoint> decodeUtf8(const std::string &text);

void appendUtf8(uint32_t cp, std::string *out);

enum class CharClass : uint8_t { Other = 0, Letter = 1, Number = 2 };
CharClass charClass(uint32_t cp); // \p{L}, \p{N} or neither
bool isWhitespace(uint32_t cp);   // \s: the Unicode White_Space property

} // namespace tern::tok

#endif
