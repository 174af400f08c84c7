// UTF-8 decoding and code point classes from the generated range table.
#include "Unicode.h"

#include <algorithm>

namespace tern::tok {
namespace {
#include "UnicodeTables.inc"
} // namespace

size_t utf8SequenceLength(uint8_t lead) {
  static const uint8_t kLength[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLength[lead >> 4];
}

std::vector<CodePoint> decodeUtf8(const std::string &text) {
  std::vector<CodePoint> cps;
  cps.reserve(text.size());
  const auto *s = reinterpret_cast<const uint8_t *>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  auto cont = [&](size_t k) { return k < n && (s[k] & 0xC0) == 0x80; };
  while (i < n) {
    uint8_t b = s[i];
    uint32_t cp = kInvalidCodePoint;
    uint32_t len = 1;
    if (b < 0x80) {
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      if (cont(i + 1)) {
        cp = ((b & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
        len = 2;
      }
    } else if ((b & 0xF0) == 0xE0) {
      if (cont(i + 1) && cont(i + 2)) {
        cp = ((b & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
        len = 3;
      }
    } else if ((b & 0xF8) == 0xF0) {
      if (cont(i + 1) && cont(i + 2) && cont(i + 3)) {
        cp = ((b & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
             (s[i + 3] & 0x3Fu);
        len = 4;
      }
    }
    cps.push_back({cp, static_cast<uint32_t>(i), len});
    i += len;
  }
  return cps;
}

void appendUtf8(uint32_t cp, std::string *out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | ((cp >> 18) & 0x07)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

CharClass charClass(uint32_t cp) {
  if (cp >= 0x110000)
    return CharClass::Other;
  // Last range start <= cp: entries compare by start because the class sits in the low 2 bits.
  const uint32_t key = (cp << 2) | 3;
  const uint32_t *end = kUnicodeClassRanges + sizeof(kUnicodeClassRanges) / sizeof(uint32_t);
  const uint32_t *it = std::upper_bound(kUnicodeClassRanges, end, key);
  return static_cast<CharClass>(it[-1] & 3);
}

bool isWhitespace(uint32_t cp) {
  // Unicode White_Space, what the `regex` module's \s matches (and what llama.cpp tabulates).
  if (cp <= 0x20)
    return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85)
    return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

} // namespace tern::tok
