// llama.cpp / bitnet.cpp architectures in a GGUF file -> hyperparameters, tokenizer, tensor roles.
#ifndef TERN_FRONTENDS_GGUF_GGUFMODELMAPPING_H
#define TERN_FRONTENDS_GGUF_GGUFMODELMAPPING_H

#include "frontends/common/ModelDescription.h"
#include "frontends/gguf/GGUFReader.h"

namespace tern::fe {

// Fills |model|'s hyperparameters and roles from |reader|'s metadata and |model.tensors| (which
// must already hold reader.records()). Anything that keeps the model from compiling becomes a
// Problem; the description itself always stays usable for `ternc inspect`.
void mapGGUFModel(const GGUFReader &reader, ModelDescription &model);

// tokenizer.ggml.* and tokenizer.chat_template -> |model.tokenizer|; type mismatches are Problems.
void readGGUFTokenizer(const GGUFReader &reader, ModelDescription &model);

} // namespace tern::fe

#endif
