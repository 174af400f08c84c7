// Builds the runtime tokenizer from what a frontend read (GGUF metadata or tokenizer.json).
#ifndef TERN_COMPILER_TOKENIZER_MODELTOKENIZER_H
#define TERN_COMPILER_TOKENIZER_MODELTOKENIZER_H

#include "frontends/common/ModelDescription.h"
#include "tern/tokenizer/Tokenizer.h"

#include "llvm/Support/Error.h"

#include <memory>

namespace tern {

// Fails naming the model path when it carries no usable vocabulary.
llvm::Expected<std::unique_ptr<Tokenizer>> tokenizerForModel(const fe::ModelDescription &model);

} // namespace tern

#endif
