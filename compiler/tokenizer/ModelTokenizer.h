// Builds the runtime tokenizer from a model or tokenizer file, whatever form its vocabulary takes.
#ifndef TERN_COMPILER_TOKENIZER_MODELTOKENIZER_H
#define TERN_COMPILER_TOKENIZER_MODELTOKENIZER_H

#include "frontends/common/ModelDescription.h"
#include "tern/tokenizer/Tokenizer.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>

namespace tern {

// From what a frontend read (GGUF metadata, tokenizer.json or tokenizer.model). Fails naming the
// model path when it carries no usable vocabulary.
llvm::Expected<std::unique_ptr<Tokenizer>> tokenizerForModel(const fe::ModelDescription &model);

// Chooses the source by |path|: a .gguf file, a tokenizer.json ("x_tokenizer.json" pairs with
// "x_tokenizer_config.json"), a SentencePiece tokenizer.model, a directory holding tokenizer.json
// or tokenizer.model (with its tokenizer_config.json), a compiled .tern artifact, or any other
// model file the frontends describe.
llvm::Expected<std::unique_ptr<Tokenizer>> tokenizerForFile(llvm::StringRef path);

} // namespace tern

#endif
