// The portable variant: plain C for the target's baseline (SSE2 on x86-64, where a fused
// multiply-add is no instruction and `fmadd` multiplies then adds; NEON with FMA on arm64).
// It runs wherever Lorikeet builds, and on x86-64 CPUs without AVX2.
#include <math.h>
#include <stdint.h>
#include "KernelTable.h"

#define LK_TABLE_NAME lk_kernels_portable
#if defined(__aarch64__)
#define LK_FMA_NATIVE 1
#define LK_F16 LK_F16_NEON
#else
#define LK_FMA_NATIVE 0
#define LK_F16 LK_F16_INTEGER
#endif
#define LK_INT8_DOT 0
#include "KernelBodies.h"
