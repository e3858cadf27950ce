#ifndef GOTRACE_CZLIB_SHIM_H
#define GOTRACE_CZLIB_SHIM_H
#include <zlib.h>
#endif
