// tern_version: the version the build was configured with.
#include "tern/tern.h"

extern "C" const char* tern_version(void) { return TERN_VERSION_STRING; }
