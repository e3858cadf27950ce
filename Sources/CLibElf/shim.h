// libelf, plus the Swift runtime's demangler (exported by libswiftCore;
// not in any header).
#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdint.h>

char *swift_demangle(const char *mangledName, size_t mangledNameLength, char *outputBuffer,
                     size_t *outputBufferSize, uint32_t flags);
