// Does this host have the CPU features (and architecture) an artifact's code was built for?
#ifndef TERN_ARTIFACT_HOSTCPU_H
#define TERN_ARTIFACT_HOSTCPU_H

#include <string_view>

namespace tern {

enum class HostFeature { Present, Missing, Unknown };

// |feature| in LLVM spelling ("avx512vnni"). Unknown: this runtime cannot query it here, which
// the loader treats as missing since running without it would fault. "amx-tile" and
// "amx-int8" are Present only once the OS has granted this process the AMX tile state, which
// the first such query asks for.
HostFeature hostHasCpuFeature(std::string_view feature);

// Whether code for |triple| ("x86_64-unknown-linux-gnu") can run on this host's architecture.
// An empty triple (target-independent artifact) runs anywhere.
bool hostRunsTriple(std::string_view triple);

// This host's architecture as the start of a triple ("x86_64", "aarch64").
const char *hostArchitecture();

} // namespace tern

#endif
