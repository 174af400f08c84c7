// SentencePiece tokenizer.model (protobuf ModelProto) -> TokenizerData, with a hand-written reader
// of the protobuf wire format so the runtime needs no protobuf library.
#include "tern/tokenizer/Tokenizer.h"

#include <cstdio>
#include <cstring>

namespace tern {
namespace {

// Field numbers of sentencepiece_model.proto.
namespace field {
constexpr uint32_t kPieces = 1, kTrainerSpec = 2, kNormalizerSpec = 3;      // ModelProto
constexpr uint32_t kPiece = 1, kScore = 2, kType = 3;                        // SentencePiece
constexpr uint32_t kModelType = 3, kTreatWhitespaceAsSuffix = 24, kByteFallback = 35,
                   kUnkId = 40, kBosId = 41, kEosId = 42, kPadId = 43;       // TrainerSpec
constexpr uint32_t kName = 1, kPrecompiledCharsmap = 2, kAddDummyPrefix = 3,
                   kRemoveExtraWhitespaces = 4, kEscapeWhitespaces = 5;      // NormalizerSpec
} // namespace field

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };
enum ModelType : int64_t { kUnigram = 1, kBPE = 2, kWord = 3, kChar = 4 };

// One field as read: its number, wire type and value (varint/fixed) or bytes (length-delimited).
struct Field {
  uint32_t number = 0;
  uint32_t wireType = 0;
  uint64_t value = 0;
  size_t offset = 0; // of the field's tag in the file, for messages
  const char *data = nullptr;
  size_t size = 0;
};

// Reads the fields of one message in [begin, end) of the file; |base| is begin's file offset.
class WireReader {
public:
  WireReader(const char *begin, size_t size, size_t base, const std::string &name,
             std::string *error)
      : p_(begin), end_(begin + size), base_(base), start_(begin), name_(name), error_(error) {}

  // False at the end of the message or on an error (then failed() is true).
  bool next(Field *f) {
    if (p_ == end_ || failed_)
      return false;
    f->offset = offset();
    uint64_t tag = 0;
    if (!varint(&tag))
      return false;
    f->number = static_cast<uint32_t>(tag >> 3);
    f->wireType = static_cast<uint32_t>(tag & 7);
    if (f->number == 0 || tag >> 32)
      return fail(f->offset, "invalid field tag " + std::to_string(tag));
    switch (f->wireType) {
    case kVarint:
      return varint(&f->value);
    case kFixed64:
    case kFixed32: {
      const size_t n = f->wireType == kFixed64 ? 8 : 4;
      if (static_cast<size_t>(end_ - p_) < n)
        return fail(offset(), "field " + std::to_string(f->number) + " needs " +
                                  std::to_string(n) + " bytes but the message ends");
      f->value = 0;
      for (size_t i = 0; i < n; ++i) // little-endian on the wire whatever the host
        f->value |= static_cast<uint64_t>(static_cast<uint8_t>(p_[i])) << (8 * i);
      p_ += n;
      return true;
    }
    case kLengthDelimited: {
      uint64_t length = 0;
      if (!varint(&length))
        return false;
      if (length > static_cast<uint64_t>(end_ - p_))
        return fail(offset(), "field " + std::to_string(f->number) + " claims " +
                                  std::to_string(length) + " bytes but only " +
                                  std::to_string(end_ - p_) + " remain");
      f->data = p_;
      f->size = static_cast<size_t>(length);
      p_ += length;
      return true;
    }
    default:
      return fail(f->offset, "field " + std::to_string(f->number) + " has wire type " +
                                 std::to_string(f->wireType) +
                                 ", which no sentencepiece model uses");
    }
  }

  bool failed() const { return failed_; }
  size_t fileOffset(const char *p) const { return base_ + static_cast<size_t>(p - start_); }

  bool fail(size_t at, const std::string &message) {
    if (error_ && !failed_)
      *error_ = name_ + ": offset " + std::to_string(at) + ": " + message;
    failed_ = true;
    return false;
  }

private:
  size_t offset() const { return fileOffset(p_); }

  bool varint(uint64_t *out) {
    const size_t at = offset();
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_)
        return fail(at, "the message ends inside a varint (truncated file?)");
      const auto b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *out = v;
        return true;
      }
    }
    return fail(at, "a varint is longer than 10 bytes");
  }

  const char *p_, *end_;
  size_t base_;
  const char *start_;
  const std::string &name_;
  std::string *error_;
  bool failed_ = false;
};

float floatFromBits(uint64_t bits) {
  const auto b = static_cast<uint32_t>(bits);
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// What the model needs beyond the pieces, with the proto's defaults.
struct Specs {
  int64_t modelType = kUnigram;
  bool byteFallback = false, whitespaceAsSuffix = false;
  int64_t unkId = 0, bosId = 1, eosId = 2, padId = -1;
  std::string normalizerName;
  size_t charsmapBytes = 0;
  bool addDummyPrefix = true, removeExtraWhitespaces = true, escapeWhitespaces = true;
};

// Checks a field's wire type before its value is used.
bool expect(WireReader &r, const Field &f, uint32_t wireType, const char *what) {
  if (f.wireType == wireType)
    return true;
  return r.fail(f.offset, std::string(what) + " (field " + std::to_string(f.number) +
                              ") has wire type " + std::to_string(f.wireType) + ", expected " +
                              std::to_string(wireType));
}

bool readPiece(WireReader &parent, const Field &message, TokenizerData *d,
               const std::string &name, std::string *error) {
  WireReader r(message.data, message.size, parent.fileOffset(message.data), name, error);
  std::string piece;
  float score = 0;
  int64_t type = static_cast<int64_t>(TokenType::Normal);
  Field f;
  while (r.next(&f)) {
    if (f.number == field::kPiece) {
      if (!expect(r, f, kLengthDelimited, "SentencePiece.piece"))
        return false;
      piece.assign(f.data, f.size);
    } else if (f.number == field::kScore) {
      if (!expect(r, f, kFixed32, "SentencePiece.score"))
        return false;
      score = floatFromBits(f.value);
    } else if (f.number == field::kType) {
      if (!expect(r, f, kVarint, "SentencePiece.type"))
        return false;
      type = static_cast<int64_t>(f.value);
      if (type < static_cast<int64_t>(TokenType::Normal) ||
          type > static_cast<int64_t>(TokenType::Byte))
        return r.fail(f.offset, "piece " + std::to_string(d->tokens.size()) + " has type " +
                                    std::to_string(f.value) + ", expected 1..6");
    }
  }
  if (r.failed())
    return false;
  if (piece.empty())
    return parent.fail(message.offset, "piece " + std::to_string(d->tokens.size()) + " is empty");
  d->tokens.push_back(std::move(piece));
  d->scores.push_back(score);
  d->tokenTypes.push_back(static_cast<int32_t>(type));
  return true;
}

bool readTrainerSpec(WireReader &parent, const Field &message, Specs *s, const std::string &name,
                     std::string *error) {
  WireReader r(message.data, message.size, parent.fileOffset(message.data), name, error);
  Field f;
  while (r.next(&f)) {
    const uint32_t n = f.number;
    if (n != field::kModelType && n != field::kTreatWhitespaceAsSuffix &&
        n != field::kByteFallback && (n < field::kUnkId || n > field::kPadId))
      continue;
    if (!expect(r, f, kVarint, "TrainerSpec field"))
      return false;
    // int32 fields hold negative values as 64-bit two's complement.
    const auto value = static_cast<int64_t>(static_cast<int32_t>(f.value));
    switch (n) {
    case field::kModelType: s->modelType = value; break;
    case field::kTreatWhitespaceAsSuffix: s->whitespaceAsSuffix = f.value != 0; break;
    case field::kByteFallback: s->byteFallback = f.value != 0; break;
    case field::kUnkId: s->unkId = value; break;
    case field::kBosId: s->bosId = value; break;
    case field::kEosId: s->eosId = value; break;
    case field::kPadId: s->padId = value; break;
    default: break;
    }
  }
  return !r.failed();
}

bool readNormalizerSpec(WireReader &parent, const Field &message, Specs *s,
                        const std::string &name, std::string *error) {
  WireReader r(message.data, message.size, parent.fileOffset(message.data), name, error);
  Field f;
  while (r.next(&f)) {
    switch (f.number) {
    case field::kName:
      if (!expect(r, f, kLengthDelimited, "NormalizerSpec.name"))
        return false;
      s->normalizerName.assign(f.data, f.size);
      break;
    case field::kPrecompiledCharsmap:
      if (!expect(r, f, kLengthDelimited, "NormalizerSpec.precompiled_charsmap"))
        return false;
      s->charsmapBytes = f.size;
      break;
    case field::kAddDummyPrefix:
    case field::kRemoveExtraWhitespaces:
    case field::kEscapeWhitespaces:
      if (!expect(r, f, kVarint, "NormalizerSpec flag"))
        return false;
      (f.number == field::kAddDummyPrefix           ? s->addDummyPrefix
       : f.number == field::kRemoveExtraWhitespaces ? s->removeExtraWhitespaces
                                                    : s->escapeWhitespaces) = f.value != 0;
      break;
    default:
      break;
    }
  }
  return !r.failed();
}

} // namespace

bool tokenizerDataFromSentencePieceModel(const std::string &bytes, const std::string &name,
                                         TokenizerData *out, std::string *error) {
  auto fail = [&](const std::string &message) {
    if (error)
      *error = name + ": " + message;
    return false;
  };
  TokenizerData d;
  Specs specs;
  bool sawTrainerSpec = false;
  WireReader r(bytes.data(), bytes.size(), 0, name, error);
  Field f;
  while (r.next(&f)) {
    bool ok = true;
    if (f.number == field::kPieces) {
      ok = expect(r, f, kLengthDelimited, "ModelProto.pieces") &&
           readPiece(r, f, &d, name, error);
    } else if (f.number == field::kTrainerSpec) {
      ok = expect(r, f, kLengthDelimited, "ModelProto.trainer_spec") &&
           readTrainerSpec(r, f, &specs, name, error);
      sawTrainerSpec = true;
    } else if (f.number == field::kNormalizerSpec) {
      ok = expect(r, f, kLengthDelimited, "ModelProto.normalizer_spec") &&
           readNormalizerSpec(r, f, &specs, name, error);
    }
    if (!ok)
      return false;
  }
  if (r.failed())
    return false;
  if (d.tokens.empty())
    return fail("no pieces: not a SentencePiece model (ModelProto field 1 is missing)");
  if (!sawTrainerSpec)
    return fail("no trainer_spec (ModelProto field 2): the model type is unknown");

  switch (specs.modelType) {
  case kBPE:
    d.model = TokenizerModel::SentencePiece;
    break;
  case kUnigram:
    d.model = TokenizerModel::Unigram;
    break;
  case kWord:
  case kChar:
    return fail(std::string("model_type ") + (specs.modelType == kWord ? "WORD" : "CHAR") +
                " is not supported (this runtime runs SentencePiece BPE and UNIGRAM models)");
  default:
    return fail("model_type " + std::to_string(specs.modelType) +
                " is unknown (expected 1 UNIGRAM or 2 BPE)");
  }
  // The runtime copies sentencepiece's identity normalizer; anything else would change ids.
  if (specs.charsmapBytes != 0)
    return fail("normalizer '" + specs.normalizerName +
                "' needs its precompiled character map, which this runtime does not apply "
                "(only identity normalization is supported)");
  if (specs.removeExtraWhitespaces)
    return fail("normalizer_spec.remove_extra_whitespaces is true; this runtime keeps spaces "
                "as they are (as LLaMA's tokenizer.model does)");
  if (!specs.escapeWhitespaces)
    return fail("normalizer_spec.escape_whitespaces is false; this runtime always writes "
                "spaces as U+2581");
  if (specs.whitespaceAsSuffix)
    return fail("trainer_spec.treat_whitespace_as_suffix is true; this runtime puts U+2581 "
                "before words only");

  const int64_t n = static_cast<int64_t>(d.tokens.size());
  auto specialId = [&](int64_t id, const char *what, int32_t *field) {
    if (id < 0) {
      *field = kNoToken;
      return true;
    }
    if (id >= n)
      return fail(std::string("trainer_spec.") + what + " " + std::to_string(id) +
                  " is outside the " + std::to_string(n) + " pieces");
    *field = static_cast<int32_t>(id);
    return true;
  };
  if (!specialId(specs.unkId, "unk_id", &d.unkId) || !specialId(specs.bosId, "bos_id", &d.bosId) ||
      !specialId(specs.eosId, "eos_id", &d.eosId) || !specialId(specs.padId, "pad_id", &d.padId))
    return false;
  if (d.unkId == kNoToken ||
      d.tokenTypes[static_cast<size_t>(d.unkId)] != static_cast<int32_t>(TokenType::Unknown))
    return fail("trainer_spec.unk_id does not name a piece of type UNKNOWN");

  if (specs.byteFallback) {
    int bytePieces = 0;
    for (int32_t t : d.tokenTypes)
      bytePieces += t == static_cast<int32_t>(TokenType::Byte);
    if (bytePieces != 256)
      return fail("byte_fallback is set but there are " + std::to_string(bytePieces) +
                  " byte pieces, expected 256");
  }
  d.pre = PreTokenizer::None;
  d.addBos = d.bosId != kNoToken; // LLaMA's convention; sentencepiece's encode() adds nothing
  d.addEos = false;
  d.addSpacePrefix = specs.addDummyPrefix;
  d.prefixAfterSpecial = false;
  *out = std::move(d);
  return true;
}

bool loadSentencePieceModelFile(const std::string &path, TokenizerData *out, std::string *error) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    if (error)
      *error = path + ": cannot open";
    return false;
  }
  std::string bytes;
  char buffer[65536];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, f)) > 0)
    bytes.append(buffer, got);
  const bool ok = !std::ferror(f);
  std::fclose(f);
  if (!ok) {
    if (error)
      *error = path + ": read error";
    return false;
  }
  return tokenizerDataFromSentencePieceModel(bytes, path, out, error);
}

} // namespace tern
