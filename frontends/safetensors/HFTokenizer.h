// Reads a Hugging Face tokenizer.json (+ tokenizer_config.json) into TokenizerInfo.
#ifndef TERN_FRONTENDS_SAFETENSORS_HFTOKENIZER_H
#define TERN_FRONTENDS_SAFETENSORS_HFTOKENIZER_H

#include "frontends/common/ModelDescription.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace tern::fe {

// Fills |model.tokenizer| from the files in |dir|. No tokenizer.json is a Warning (token ids
// only); a file that is not valid JSON is an error naming it.
llvm::Error readHFTokenizer(llvm::StringRef dir, ModelDescription &model);

} // namespace tern::fe

#endif
