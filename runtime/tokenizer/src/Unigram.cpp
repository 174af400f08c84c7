// SentencePiece unigram: the segmentation with the highest total piece score (Viterbi over the
// text's characters), scored exactly as the sentencepiece library scores it.
#include "tern/tokenizer/Tokenizer.h"

#include "Unicode.h"

#include <algorithm>
#include <cfloat>

namespace tern {
namespace {

const char kSpaceMark[] = "\xE2\x96\x81"; // U+2581 "▁"

// sentencepiece gives an unknown character the lowest normal score minus this penalty.
constexpr float kUnknownPenalty = 10.0f;

// The best path ending at one byte offset.
struct PathEnd {
  float score = 0;     // total score of the best path ending here
  int32_t start = -1;  // byte offset where its last piece starts; -1: unreached
  int32_t id = kNoToken;
};

} // namespace

bool Tokenizer::initUnigram(std::string *error) {
  if (data_.unkId == kNoToken) {
    if (error)
      *error = "a unigram vocabulary needs an unknown token (<unk>) for characters it lacks";
    return false;
  }
  // The library starts from FLT_MAX / FLT_MIN (the smallest positive float, not -FLT_MAX), so a
  // vocabulary of negative log-probabilities has a "maximum" just above 0; copied for equal scores.
  unigramMinScore_ = FLT_MAX;
  unigramMaxScore_ = FLT_MIN;
  for (int32_t id = 0; id < vocabSize(); ++id) {
    TokenType type = tokenType(id);
    if (type == TokenType::Normal || type == TokenType::UserDefined)
      unigramMaxPieceBytes_ = std::max(unigramMaxPieceBytes_, tokenText(id).size());
    if (type != TokenType::Normal)
      continue;
    float score = data_.scores.empty() ? 0.0f : data_.scores[static_cast<size_t>(id)];
    unigramMinScore_ = std::min(unigramMinScore_, score);
    unigramMaxScore_ = std::max(unigramMaxScore_, score);
  }
  byteFallback_ = true;
  for (int32_t id : byteTokens_)
    if (id == kNoToken || tokenType(id) != TokenType::Byte)
      byteFallback_ = false;
  return true;
}

void Tokenizer::encodeUnigram(const std::string &fragment, bool afterSpecial,
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
  if (text.empty())
    return;

  const size_t size = text.size();
  const float unknownScore = unigramMinScore_ - kUnknownPenalty;
  std::vector<PathEnd> best(size + 1); // (size + 1) indexed by end byte offset
  best[0].start = 0;
  std::string scratch;
  for (size_t start = 0; start < size;) {
    const size_t charBytes =
        std::min(tok::utf8SequenceLength(static_cast<uint8_t>(text[start])), size - start);
    const float here = best[start].score;
    bool singleCharPiece = false;
    // Shorter pieces first and only strictly better paths replace one: the library's order, so
    // ties resolve the same way.
    const size_t longest = std::min(unigramMaxPieceBytes_, size - start);
    for (size_t length = 1; length <= longest; ++length) {
      scratch.assign(text, start, length);
      const int32_t id = tokenId(scratch);
      if (id == kNoToken)
        continue;
      const TokenType type = tokenType(id);
      if (type != TokenType::Normal && type != TokenType::UserDefined)
        continue; // control, unknown, byte and unused pieces never match text
      // A user-defined piece gets a bonus that makes it win. Sums stay in float: ties such as
      // "0"+"00" vs "00"+"0" then break as the library breaks them (checked on WikiText lines).
      const float score =
          type == TokenType::UserDefined
              ? static_cast<float>(length) * unigramMaxScore_ - 0.1f
              : (data_.scores.empty() ? 0.0f : data_.scores[static_cast<size_t>(id)]);
      const float candidate = score + here;
      PathEnd &end = best[start + length];
      if (end.start == -1 || candidate > end.score) {
        end.score = candidate;
        end.start = static_cast<int32_t>(start);
        end.id = id;
      }
      if (length == charBytes)
        singleCharPiece = true;
    }
    if (!singleCharPiece) {
      PathEnd &end = best[start + charBytes];
      const float candidate = unknownScore + here;
      if (end.start == -1 || candidate > end.score) {
        end.score = candidate;
        end.start = static_cast<int32_t>(start);
        end.id = data_.unkId;
      }
    }
    start += charBytes;
  }

  // Walk back from the end, then emit front to back.
  std::vector<int32_t> starts; // piece start offsets, last piece first
  for (size_t end = size; end > 0; end = static_cast<size_t>(best[end].start))
    starts.push_back(static_cast<int32_t>(end));
  bool previousUnknown = false;
  for (auto it = starts.rbegin(); it != starts.rend(); ++it) {
    const PathEnd &piece = best[static_cast<size_t>(*it)];
    const bool unknown = piece.id == data_.unkId;
    if (unknown && byteFallback_) {
      for (size_t i = static_cast<size_t>(piece.start); i < static_cast<size_t>(*it); ++i)
        out->push_back(byteTokens_[static_cast<uint8_t>(text[i])]);
    } else if (!(unknown && previousUnknown)) {
      out->push_back(piece.id); // a run of unknown characters is one <unk>, as in the library
    }
    previousUnknown = unknown;
  }
}

} // namespace tern
