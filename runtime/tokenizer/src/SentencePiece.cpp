// SentencePiece BPE as llama.cpp's "llama" vocabulary runs it: repeatedly merge the adjacent pair
// whose concatenation is the highest-scoring token, then fall back to <0xXX> byte tokens.
#include "tern/tokenizer/Tokenizer.h"

#include "MergeSymbols.h"
#include "Unicode.h"

#include <queue>

namespace tern {
using tok::Symbol;
using tok::splitIntoSymbols;
namespace {

const char kSpaceMark[] = "\xE2\x96\x81"; // U+2581 "▁", SentencePiece's visible space

struct Candidate {
  float score;
  int32_t left, right;
  uint32_t size; // bytes of left + right when queued: a mismatch later means it is stale
};

// Highest score first; among equal scores the leftmost pair.
struct CandidateOrder {
  bool operator()(const Candidate &a, const Candidate &b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

} // namespace

bool Tokenizer::initSentencePiece(std::string * /*error*/) {
  static const char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    std::string name = "<0x";
    name += kHex[b >> 4];
    name += kHex[b & 15];
    name += '>';
    int32_t id = tokenId(name);
    if (id == kNoToken)
      id = tokenId(std::string(1, static_cast<char>(b)));
    byteTokens_[static_cast<size_t>(b)] = id == kNoToken ? data_.unkId : id;
  }
  return true;
}

void Tokenizer::encodeSentencePiece(const std::string &fragment, bool afterSpecial,
                                    std::vector<int32_t> *out) const {
  std::string text;
  text.reserve(fragment.size() * 2 + 3);
  if (data_.addSpacePrefix && afterSpecial)
    text += kSpaceMark;
  for (char c : fragment) {
    if (c == ' ')
      text += kSpaceMark;
    else
      text += c;
  }

  std::vector<Symbol> symbols = splitIntoSymbols(text);

  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
  std::string scratch;
  auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0)
      return;
    const Symbol &l = symbols[static_cast<size_t>(left)];
    const Symbol &r = symbols[static_cast<size_t>(right)];
    scratch.assign(text, l.begin, l.size + r.size);
    int32_t id = tokenId(scratch);
    if (id == kNoToken)
      return;
    float score = data_.scores.empty() ? 0.0f : data_.scores[static_cast<size_t>(id)];
    queue.push({score, left, right, l.size + r.size});
  };
  for (size_t i = 1; i < symbols.size(); ++i)
    consider(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol &l = symbols[static_cast<size_t>(c.left)];
    Symbol &r = symbols[static_cast<size_t>(c.right)];
    if (l.size == 0 || r.size == 0 || l.size + r.size != c.size)
      continue;
    l.size += r.size;
    r.size = 0;
    l.next = r.next;
    if (r.next >= 0)
      symbols[static_cast<size_t>(r.next)].prev = c.left;
    consider(l.prev, c.left);
    consider(c.left, l.next);
  }

  // Every merged symbol is a token by construction; single characters that are not become bytes.
  for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol &s = symbols[static_cast<size_t>(i)];
    scratch.assign(text, s.begin, s.size);
    int32_t id = tokenId(scratch);
    if (id != kNoToken) {
      out->push_back(id);
      continue;
    }
    for (char c : scratch)
      if (int32_t byte = byteTokens_[static_cast<uint8_t>(c)]; byte != kNoToken)
        out->push_back(byte);
  }
}

std::string Tokenizer::normalPiece(const std::string &tokenText) const {
  if (data_.model == TokenizerModel::ByteLevelBPE)
    return byteLevelPiece(tokenText);
  std::string out;
  out.reserve(tokenText.size());
  for (size_t i = 0; i < tokenText.size();) {
    if (tokenText.compare(i, 3, kSpaceMark) == 0) {
      out += ' ';
      i += 3;
    } else {
      out += tokenText[i++];
    }
  }
  return out;
}

} // namespace tern
