// Builds the runtime tokenizer's data from the tokenizer table of a `.tern` artifact.
#ifndef TERN_EXECUTOR_ARTIFACTTOKENIZER_H
#define TERN_EXECUTOR_ARTIFACTTOKENIZER_H

#include "tern/artifact/tern_artifact_generated.h"
#include "tern/tokenizer/Tokenizer.h"

#include <string>

namespace tern {

// Fills |out| from |table| the way the GGUF loader reads the same fields (absent optional ids
// and flags take llama.cpp's per-model defaults). False with |*error| naming the field when the
// table is incomplete or names a tokenizer model this runtime lacks.
bool tokenizerDataFromArtifact(const schema::Tokenizer &table, TokenizerData *out,
                               std::string *error);

} // namespace tern

#endif
