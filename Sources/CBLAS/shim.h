// CBLAS over OpenBLAS (Debian: libopenblas-dev). macOS uses Accelerate instead of this target.
#ifndef LORIKEET_CBLAS_SHIM_H
#define LORIKEET_CBLAS_SHIM_H
#include <cblas.h>
#endif
