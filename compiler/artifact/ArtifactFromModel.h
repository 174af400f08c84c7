// Fills an artifact's metadata, tokenizer and weight sections from a frontend's ModelDescription.
#ifndef TERN_COMPILER_ARTIFACT_ARTIFACTFROMMODEL_H
#define TERN_COMPILER_ARTIFACT_ARTIFACTFROMMODEL_H

#include "compiler/artifact/ArtifactWriter.h"
#include "frontends/common/ModelDescription.h"

namespace tern {

// Sets |contents.metadata| and |contents.tokenizer| from |model|.
void describeModelInArtifact(const fe::ModelDescription &model, ArtifactContents &contents);

// A Weights section holding |tensor|'s bytes as stored in the source file (packing ""). The
// section points into the reader's mapping: keep |model| alive until writeArtifact returns.
ArtifactSection tensorSection(const fe::TensorRecord &tensor);

} // namespace tern

#endif
