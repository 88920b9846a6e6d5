// The transpose of a matrix as a new f32 tensor (file layouts that store [in, out] where we
// hold [out, in], such as mlx-lm's LoRA pairs).

extension Tensor {
    /// The transpose of this 2-D tensor, widened to f32 and copied. Traps on other ranks.
    public func transposed() -> Tensor {
        precondition(shape.count == 2, "transposed() needs a matrix, got shape \(shape)")
        let (rows, cols) = (shape[0], shape[1])
        var out = Tensor(zeros: [cols, rows])
        widened().withUnsafeFloats { src in
            out.withUnsafeMutableFloats { dst in
                for r in 0..<rows { for c in 0..<cols { dst[c * rows + r] = src[r * cols + c] } }
            }
        }
        return out
    }
}
