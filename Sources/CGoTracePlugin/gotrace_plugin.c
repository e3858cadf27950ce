// The plugin ABI is header-only; SwiftPM needs one source file per C target, and compiling the header
// here also checks that it stands alone as C.
#include "gotrace_plugin.h"

_Static_assert(sizeof(gotrace_event) == 88, "gotrace_event layout is part of ABI v1");
_Static_assert(sizeof(gotrace_transition) == 56, "gotrace_transition layout is part of ABI v1");
