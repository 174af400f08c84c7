// Maps a Hugging Face decoder (config.json + tensor names) onto ModelDescription roles.
#ifndef TERN_FRONTENDS_SAFETENSORS_HFMODELMAPPING_H
#define TERN_FRONTENDS_SAFETENSORS_HFMODELMAPPING_H

#include "frontends/common/ModelDescription.h"
#include "frontends/safetensors/HFConfig.h"

namespace tern::fe {

// Fills architecture, detail, hparams, the tensor roles, quantization metadata rows and problems
// of |model|, whose |tensors| are already read. Never fails: what cannot be mapped is a Problem.
void mapHFModel(HFConfig &config, ModelDescription &model);

} // namespace tern::fe

#endif
