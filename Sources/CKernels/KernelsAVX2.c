// The x86-64-v3 variant: the same bodies compiled for AVX2, FMA and F16C through a target
// attribute on every function (no compiler flag, so SwiftPM needs no unsafeFlags); only
// called after Dispatch.c has checked the CPU and the OS for those features.
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include "KernelTable.h"

#define LK_TABLE_NAME lk_kernels_avx2
#define LK_FMA_NATIVE 1
#define LK_F16 LK_F16_F16C
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define LK_INT8_DOT 1
#include "KernelBodies.h"
#pragma clang attribute pop
#endif
