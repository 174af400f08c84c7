// Byte-level BPE (GPT-2, LLaMA-3): pre-tokenize, map bytes to GPT-2's printable stand-ins, then
// merge the lowest-ranked adjacent pair until no pair is in the merge list.
#include "tern/tokenizer/Tokenizer.h"

#include "PreTokenizer.h"
#include "MergeSymbols.h"
#include "Unicode.h"

#include <queue>

namespace tern {
using namespace tok;
namespace {

struct Candidate {
  int32_t rank;
  int32_t left, right;
  uint32_t leftSize, rightSize; // when queued: a mismatch later means it is stale
};

// Lowest rank first; among equal ranks the leftmost pair.
struct CandidateOrder {
  bool operator()(const Candidate &a, const Candidate &b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

} // namespace

bool Tokenizer::initByteLevel(std::string *error) {
  if (data_.pre == PreTokenizer::None) {
    if (error)
      *error = "byte-level BPE needs a pre-tokenizer (gpt2 or llama3)";
    return false;
  }
  // GPT-2's table: printable Latin-1 bytes stand for themselves, the other 68 bytes take code
  // points 256, 257, ... in byte order.
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    uint32_t cp = printable ? b : next++;
    appendUtf8(cp, &byteToUnicode_[b]);
    unicodeToByte_[cp] = static_cast<uint8_t>(b);
  }
  mergeRank_.reserve(data_.merges.size());
  for (size_t i = 0; i < data_.merges.size(); ++i) {
    const std::string &m = data_.merges[i];
    // The separator is the first space after the first byte, as llama.cpp splits GGUF merges.
    size_t space = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (space == std::string::npos || space + 1 >= m.size()) {
      if (error)
        *error = "merge " + std::to_string(i) + " ('" + m + "') is not two tokens joined by a space";
      return false;
    }
    // The first occurrence wins, as with llama.cpp's emplace.
    mergeRank_.emplace(m, static_cast<int32_t>(i));
  }
  return true;
}

void Tokenizer::encodeByteLevel(const std::string &text, std::vector<int32_t> *out) const {
  std::string word;
  for (const auto &[begin, end] : splitWords(text, data_.pre)) {
    word.clear();
    for (size_t i = begin; i < end; ++i)
      word += byteToUnicode_[static_cast<uint8_t>(text[i])];
    encodeByteLevelWord(word, out);
  }
}

void Tokenizer::encodeByteLevelWord(const std::string &word, std::vector<int32_t> *out) const {
  if (data_.ignoreMerges) {
    if (int32_t id = tokenId(word); id != kNoToken) {
      out->push_back(id);
      return;
    }
  }
  std::vector<Symbol> symbols = splitIntoSymbols(word);

  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
  std::string key;
  auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0)
      return;
    const Symbol &l = symbols[static_cast<size_t>(left)];
    const Symbol &r = symbols[static_cast<size_t>(right)];
    key.assign(word, l.begin, l.size);
    key += ' ';
    key.append(word, r.begin, r.size);
    auto it = mergeRank_.find(key);
    if (it == mergeRank_.end())
      return;
    queue.push({it->second, left, right, l.size, r.size});
  };
  for (size_t i = 1; i < symbols.size(); ++i)
    consider(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol &l = symbols[static_cast<size_t>(c.left)];
    Symbol &r = symbols[static_cast<size_t>(c.right)];
    // Symbols only grow and stay anchored at their begin, so equal sizes mean equal text.
    if (l.size != c.leftSize || r.size != c.rightSize || l.next != c.right)
      continue;
    l.size += r.size;
    r.size = 0;
    l.next = r.next;
    if (r.next >= 0)
      symbols[static_cast<size_t>(r.next)].prev = c.left;
    consider(l.prev, c.left);
    consider(c.left, l.next);
  }

  for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol &s = symbols[static_cast<size_t>(i)];
    key.assign(word, s.begin, s.size);
    if (int32_t id = tokenId(key); id != kNoToken) {
      out->push_back(id);
      continue;
    }
    // Not in the vocabulary (a vocabulary without all 256 byte symbols): single bytes, if any.
    for (char c : key)
      if (int32_t id = tokenId(std::string(1, c)); id != kNoToken)
        out->push_back(id);
  }
}

std::string Tokenizer::byteLevelPiece(const std::string &tokenText) const {
  std::string out;
  out.reserve(tokenText.size());
  for (const CodePoint &c : decodeUtf8(tokenText)) {
    auto it = unicodeToByte_.find(c.cp);
    if (it != unicodeToByte_.end())
      out += static_cast<char>(it->second);
    else
      out.append(tokenText, c.begin, c.size); // not a byte stand-in: keep the text
  }
  return out;
}

} // namespace tern
