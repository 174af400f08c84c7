// The GPT-2 and LLaMA-3 pre-tokenizer regexes as hand-written scanners over code points.
//
// std::regex has no \p{L} and backtracks badly, so each alternative of the regex is tried in
// order at the current position with the extent the regex engine would give it. Extents follow
// llama.cpp's scanners, which produced the reference vectors: e.g. `\s+(?!\S)` keeps the last
// space of a run for the next word, and invalid UTF-8 bytes count as [^\s\p{L}\p{N}].
#include "PreTokenizer.h"

#include "Unicode.h"

namespace tern::tok {
namespace {

class Scanner {
public:
  explicit Scanner(const std::string &text) : cps_(decodeUtf8(text)), textSize_(text.size()) {}

  size_t size() const { return cps_.size(); }
  bool inRange(size_t i) const { return i < cps_.size(); }
  uint32_t cp(size_t i) const { return inRange(i) ? cps_[i].cp : 0xFFFFFFFFu; }
  bool letter(size_t i) const { return inRange(i) && charClass(cps_[i].cp) == CharClass::Letter; }
  bool number(size_t i) const { return inRange(i) && charClass(cps_[i].cp) == CharClass::Number; }
  bool space(size_t i) const { return inRange(i) && isWhitespace(cps_[i].cp); }
  // [^\s\p{L}\p{N}]: any code point that is none of the three (past the end is nothing).
  bool other(size_t i) const { return inRange(i) && !space(i) && !letter(i) && !number(i); }
  bool newline(size_t i) const { return cp(i) == '\r' || cp(i) == '\n'; }

  // Records the word [start_, end) in code points and moves on.
  void emit(size_t end) {
    if (end > start_) {
      size_t b = cps_[start_].begin;
      size_t e = end < cps_.size() ? cps_[end].begin : textSize_;
      words_.emplace_back(b, e);
    }
    start_ = end;
  }
  size_t start() const { return start_; }
  std::vector<std::pair<size_t, size_t>> take() { return std::move(words_); }

  // 's|'t|'re|'ve|'m|'ll|'d at |i|: the match length, or 0.
  size_t contraction(size_t i, bool ignoreCase) const {
    if (cp(i) != '\'' || !inRange(i + 1))
      return 0;
    auto lower = [&](size_t k) {
      uint32_t c = cp(k);
      // ASCII folding suffices: no other code point lowercases to s, t, m, d, r, e, v or l.
      return ignoreCase && c >= 'A' && c <= 'Z' ? c + 32 : c;
    };
    uint32_t a = lower(i + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
      return 2;
    if (!inRange(i + 2))
      return 0;
    uint32_t b = lower(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
      return 3;
    return 0;
  }

private:
  std::vector<CodePoint> cps_;
  size_t textSize_;
  size_t start_ = 0;
  std::vector<std::pair<size_t, size_t>> words_;
};

void splitGPT2(Scanner &s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    if (size_t len = s.contraction(i, /*ignoreCase=*/false)) {
      i += len;
      s.emit(i);
      continue;
    }
    // " ?X+" alternatives look past one optional leading space.
    const size_t j = s.cp(i) == ' ' ? i + 1 : i;
    if (s.letter(j) || s.number(j) || s.other(j)) {
      size_t k = j;
      if (s.letter(j))
        while (s.letter(k))
          ++k;
      else if (s.number(j))
        while (s.number(k))
          ++k;
      else
        while (s.other(k))
          ++k;
      i = k;
      s.emit(i);
      continue;
    }
    size_t spaces = 0;
    while (s.space(i + spaces))
      ++spaces;
    if (spaces > 1 && s.inRange(i + spaces))
      i += spaces - 1; // \s+(?!\S): leave the last space to prefix the next word
    else if (spaces > 0)
      i += spaces;
    else
      i += 1;
    s.emit(i);
  }
}

void splitLlama3(Scanner &s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    if (size_t len = s.contraction(i, /*ignoreCase=*/true)) {
      i += len;
      s.emit(i);
      continue;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!s.newline(i) && !s.number(i) && (s.letter(i) || s.letter(i + 1))) {
      size_t k = i + 1;
      while (s.letter(k))
        ++k;
      i = k;
      s.emit(i);
      continue;
    }
    // \p{N}{1,3}
    if (s.number(i)) {
      size_t k = i;
      while (s.number(k) && k - i < 3)
        ++k;
      i = k;
      s.emit(i);
      continue;
    }
    // " ?[^\s\p{L}\p{N}]+[\r\n]*"; a lone trailing space ends up alone either way.
    const size_t j = s.cp(i) == ' ' ? i + 1 : i;
    if (s.other(j)) {
      size_t k = j;
      while (s.other(k))
        ++k;
      while (s.newline(k))
        ++k;
      i = k;
      s.emit(i);
      continue;
    }
    size_t spaces = 0;
    size_t afterLastNewline = 0;
    while (s.space(i + spaces)) {
      if (s.newline(i + spaces))
        afterLastNewline = i + spaces + 1;
      ++spaces;
    }
    if (afterLastNewline > 0)
      i = afterLastNewline; // \s*[\r\n]+
    else if (spaces > 1 && s.inRange(i + spaces))
      i += spaces - 1;      // \s+(?!\S)
    else if (spaces > 0)
      i += spaces;          // \s+
    else
      i += 1;
    s.emit(i);
  }
}

} // namespace

std::vector<std::pair<size_t, size_t>> splitWords(const std::string &text, PreTokenizer kind) {
  Scanner s(text);
  switch (kind) {
  case PreTokenizer::GPT2:
    splitGPT2(s);
    break;
  case PreTokenizer::Llama3:
    splitLlama3(s);
    break;
  case PreTokenizer::None:
    s.emit(s.size());
    break;
  }
  return s.take();
}

} // namespace tern::tok
