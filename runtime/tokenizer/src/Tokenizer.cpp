// Shared tokenizer machinery: validation, special-token matching, decoding, streaming.
#include "tern/tokenizer/Tokenizer.h"

#include <algorithm>
#include <string_view>

namespace tern {
namespace {

// C isspace, which llama.cpp uses to strip around special tokens.
bool isAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// A stretch of the input: raw text [begin, end) or one special token.
struct Fragment {
  int32_t token; // kNoToken for text
  size_t begin, end;
};

} // namespace

std::unique_ptr<Tokenizer> Tokenizer::create(TokenizerData data, std::string *error) {
  std::unique_ptr<Tokenizer> t(new Tokenizer(std::move(data)));
  if (!t->init(error))
    return nullptr;
  bool ok = false;
  switch (t->data_.model) {
  case TokenizerModel::SentencePiece:
    ok = t->initSentencePiece(error);
    break;
  case TokenizerModel::ByteLevelBPE:
    ok = t->initByteLevel(error);
    break;
  case TokenizerModel::Unigram:
    ok = t->initSentencePiece(error) && t->initUnigram(error);
    break;
  }
  return ok ? std::move(t) : nullptr;
}

bool Tokenizer::init(std::string *error) {
  const size_t n = data_.tokens.size();
  auto fail = [&](const std::string &message) {
    if (error)
      *error = message;
    return false;
  };
  if (n == 0)
    return fail("the vocabulary is empty");
  if (n > 0x7fffffff)
    return fail("the vocabulary has more than 2^31 tokens");
  if (!data_.scores.empty() && data_.scores.size() != n)
    return fail("there are " + std::to_string(data_.scores.size()) + " scores for " +
                std::to_string(n) + " tokens");
  if (!data_.tokenTypes.empty() && data_.tokenTypes.size() != n)
    return fail("there are " + std::to_string(data_.tokenTypes.size()) + " token types for " +
                std::to_string(n) + " tokens");
  if (!data_.stripFlags.empty() && data_.stripFlags.size() != n)
    return fail("there are " + std::to_string(data_.stripFlags.size()) + " strip flags for " +
                std::to_string(n) + " tokens");
  for (int32_t *id : {&data_.bosId, &data_.eosId, &data_.unkId, &data_.padId})
    if (*id < kNoToken || *id >= static_cast<int32_t>(n))
      return fail("special token id " + std::to_string(*id) + " is outside the vocabulary of " +
                  std::to_string(n) + " tokens");
  if (data_.addBos && data_.bosId == kNoToken)
    return fail("add_bos is set but there is no BOS token");
  if (data_.addEos && data_.eosId == kNoToken)
    return fail("add_eos is set but there is no EOS token");

  tokenToId_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (data_.tokens[i].empty())
      return fail("token " + std::to_string(i) + " is empty");
    auto [it, inserted] = tokenToId_.emplace(data_.tokens[i], static_cast<int32_t>(i));
    if (!inserted)
      return fail("token '" + data_.tokens[i] + "' appears twice (ids " +
                  std::to_string(it->second) + " and " + std::to_string(i) + ")");
    TokenType t = tokenType(static_cast<int32_t>(i));
    if (t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown)
      specialTokens_.push_back(static_cast<int32_t>(i));
  }
  // Longest first, so "<|eot_id|>" is found before a shorter token inside it; ties by id keep
  // the result independent of the sort implementation.
  std::stable_sort(specialTokens_.begin(), specialTokens_.end(), [&](int32_t a, int32_t b) {
    return data_.tokens[a].size() > data_.tokens[b].size();
  });
  return true;
}

TokenType Tokenizer::tokenType(int32_t id) const {
  if (id < 0 || id >= vocabSize())
    return TokenType::Undefined;
  if (data_.tokenTypes.empty())
    return TokenType::Normal;
  int32_t t = data_.tokenTypes[static_cast<size_t>(id)];
  return t >= 0 && t <= 6 ? static_cast<TokenType>(t) : TokenType::Undefined;
}

int32_t Tokenizer::tokenId(const std::string &text) const {
  auto it = tokenToId_.find(text);
  return it == tokenToId_.end() ? kNoToken : it->second;
}

std::vector<int32_t> Tokenizer::encode(const std::string &text, bool addSpecial,
                                       bool parseSpecial) const {
  // Cut special tokens out of the text, longest token first over the whole text, as llama.cpp's
  // tokenizer_st_partition does; what remains between them goes to the model.
  std::vector<Fragment> fragments;
  if (!text.empty())
    fragments.push_back({kNoToken, 0, text.size()});
  for (int32_t id : specialTokens_) {
    TokenType type = tokenType(id);
    if (!parseSpecial && type != TokenType::UserDefined)
      continue;
    const std::string &special = data_.tokens[static_cast<size_t>(id)];
    const uint8_t strip = data_.stripFlags.empty() ? 0 : data_.stripFlags[static_cast<size_t>(id)];
    std::vector<Fragment> next;
    next.reserve(fragments.size());
    for (const Fragment &f : fragments) {
      if (f.token != kNoToken) {
        next.push_back(f);
        continue;
      }
      size_t begin = f.begin;
      const size_t end = f.end;
      while (begin < end) {
        const size_t match = std::string_view(text.data(), end).find(special, begin);
        if (match == std::string::npos) {
          next.push_back({kNoToken, begin, end});
          break;
        }
        size_t leftEnd = match;
        if (strip & kStripLeft)
          while (leftEnd > begin && isAsciiSpace(text[leftEnd - 1]))
            --leftEnd;
        if (leftEnd > begin)
          next.push_back({kNoToken, begin, leftEnd});
        next.push_back({id, match, match + special.size()});
        begin = match + special.size();
        if (strip & kStripRight)
          while (begin < end && isAsciiSpace(text[begin]))
            ++begin;
      }
    }
    fragments.swap(next);
  }

  std::vector<int32_t> ids;
  if (addSpecial && data_.addBos)
    ids.push_back(data_.bosId);
  bool afterSpecial = true;
  for (size_t i = 0; i < fragments.size(); ++i) {
    const Fragment &f = fragments[i];
    // The sentencepiece library puts its "▁" in front of the whole text only, even when a
    // special token comes first ("▁" "<mask>" ...); llama.cpp after every special token.
    const bool prefixHere = afterSpecial && (data_.prefixAfterSpecial || i == 0);
    if (f.token != kNoToken) {
      if (prefixHere && !data_.prefixAfterSpecial && data_.addSpacePrefix &&
          data_.model != TokenizerModel::ByteLevelBPE) {
        if (data_.model == TokenizerModel::Unigram)
          encodeUnigram(std::string(), true, &ids);
        else
          encodeSentencePiece(std::string(), true, &ids);
      }
      ids.push_back(f.token);
      afterSpecial = true;
    } else {
      std::string fragment = text.substr(f.begin, f.end - f.begin);
      switch (data_.model) {
      case TokenizerModel::SentencePiece:
        encodeSentencePiece(fragment, prefixHere, &ids);
        break;
      case TokenizerModel::Unigram:
        encodeUnigram(fragment, prefixHere, &ids);
        break;
      case TokenizerModel::ByteLevelBPE:
        encodeByteLevel(fragment, &ids);
        break;
      }
      afterSpecial = false;
    }
  }
  if (addSpecial && data_.addEos)
    ids.push_back(data_.eosId);
  return ids;
}

std::string Tokenizer::tokenPiece(int32_t id, bool renderSpecial) const {
  if (id < 0 || id >= vocabSize())
    return std::string();
  const std::string &text = data_.tokens[static_cast<size_t>(id)];
  switch (tokenType(id)) {
  case TokenType::Normal:
    return normalPiece(text);
  case TokenType::Control:
  case TokenType::Unknown:
    return renderSpecial ? text : std::string();
  case TokenType::UserDefined:
    return text;
  case TokenType::Byte:
    // <0xXX>
    if (text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>') {
      auto hex = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                                   : -1;
      };
      int hi = hex(text[3]), lo = hex(text[4]);
      if (hi >= 0 && lo >= 0)
        return std::string(1, static_cast<char>(hi * 16 + lo));
    }
    return std::string();
  case TokenType::Unused:
  case TokenType::Undefined:
    break;
  }
  return std::string();
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids, bool renderSpecial) const {
  TokenStreamDecoder stream(*this, /*atStart=*/true, renderSpecial);
  std::string out;
  for (int32_t id : ids)
    out += stream.push(id);
  out += stream.finish();
  return out;
}

TokenStreamDecoder::TokenStreamDecoder(const Tokenizer &tokenizer, bool atStart,
                                       bool renderSpecial)
    : tokenizer_(tokenizer),
      stripPending_(atStart && tokenizer.data().model != TokenizerModel::ByteLevelBPE &&
                    tokenizer.data().addSpacePrefix),
      renderSpecial_(renderSpecial) {}

std::string TokenStreamDecoder::push(int32_t id) {
  std::string piece = tokenizer_.tokenPiece(id, renderSpecial_);
  if (stripPending_ && !piece.empty()) {
    // The dummy prefix sits on the first token that renders anything.
    if (piece[0] == ' ')
      piece.erase(0, 1);
    stripPending_ = false;
  }
  pending_ += piece;
  // Hand out everything up to the last character whose bytes have all arrived.
  size_t cut = pending_.size();
  for (size_t back = 1; back <= 4 && back <= pending_.size(); ++back) {
    const auto b = static_cast<uint8_t>(pending_[pending_.size() - back]);
    if ((b & 0xC0) == 0x80)
      continue; // continuation byte: keep looking for its lead
    size_t need = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3
                                 : (b & 0xF8) == 0xF0 ? 4
                                                      : 1;
    if (need > back)
      cut = pending_.size() - back;
    break;
  }
  std::string out = pending_.substr(0, cut);
  pending_.erase(0, cut);
  return out;
}

std::string TokenStreamDecoder::finish() {
  std::string out;
  out.swap(pending_);
  return out;
}

} // namespace tern
