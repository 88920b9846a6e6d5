// Running a check in every variant of the C kernels (CKernels) this machine can run: the
// portable one always, AVX2+FMA+F16C where the CPU has it. Kernel twin tests and gradient
// checks go through this, so a variant a user's CPU would pick is never left untested.
import TensorCore

/// Runs `body` once per supported SIMD variant, with all kernels switched to it.
package func forEachSIMDLevel(_ body: (SIMDLevel) throws -> Void) rethrows {
    for level in SIMDLevel.supported {
        try level.run { try body(level) }
    }
}
