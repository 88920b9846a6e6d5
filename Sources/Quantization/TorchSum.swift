// PyTorch's Float32 `sum` / `mean` of a contiguous 1-D tensor on the CPU, in its exact
// summation order (ATen `SumKernel.cpp`: `cascade_sum` → `vectorized_inner_sum` → `row_sum`
// → `multi_row_sum`). bitsandbytes' double quantization subtracts `absmax.mean()`, so
// matching its offset bit for bit needs the same order of additions.
// Limits: one torch thread, or fewer than 32 768 values (torch splits larger sums over its
// threads); Vectorized<float> of 8 lanes (AVX2 and the default build; AVX-512 uses 16).

enum TorchSum {
    /// `torch.mean(x)` for Float32 x: the cascade sum divided by the count in Float32.
    static func mean(_ x: UnsafeBufferPointer<Float>, lanes: Int = 8) -> Float {
        sum(x, lanes: lanes) / Float(x.count)
    }

    /// `torch.sum(x)` for Float32 x.
    static func sum(_ x: UnsafeBufferPointer<Float>, lanes: Int = 8) -> Float {
        let n = x.count
        guard n > 0 else { return 0 }
        if n < lanes {
            // Too short to vectorize: the scalar row_sum over the whole row.
            return rowSum(x, lanes: 1, elements: n)[0]
        }
        let vectors = n / lanes
        let lanesum = rowSum(x, lanes: lanes, elements: vectors)
        var acc: Float = 0
        for k in (vectors * lanes)..<n { acc += x[k] }     // scalar tail first,
        for l in 0..<lanes { acc += lanesum[l] }           // then the vector's lanes in order
        return acc
    }

    /// `row_sum` over `elements` consecutive items of `lanes` floats each: four interleaved
    /// chains (ILP 4) summed by `multiRowSum`, leftovers added to chain 0, chains folded.
    static func rowSum(_ x: UnsafeBufferPointer<Float>, lanes: Int, elements: Int) -> [Float] {
        let ilp = 4
        let rows = elements / ilp
        var partial = multiRowSum(x, lanes: lanes, rows: rows)     // [ilp][lanes] flattened
        for e in (rows * ilp)..<elements {
            for l in 0..<lanes { partial[l] += x[e * lanes + l] }
        }
        for k in 1..<ilp {
            for l in 0..<lanes { partial[l] += partial[k * lanes + l] }
        }
        return Array(partial[0..<lanes])
    }

    /// `multi_row_sum` with 4 levels: level 0 adds `2^p` rows, then each level carries into the
    /// next until the row counter is not a multiple of the next level's span.
    static func multiRowSum(_ x: UnsafeBufferPointer<Float>, lanes: Int, rows: Int) -> [Float] {
        let ilp = 4, levels = 4
        let width = ilp * lanes                         // one row: 4 items of `lanes` floats
        let power = max(4, ceilLog2(rows) / levels)
        let step = 1 << power, mask = step - 1
        var acc = [[Float]](repeating: [Float](repeating: 0, count: width), count: levels)
        var i = 0
        while i + step <= rows {
            for _ in 0..<step {
                let base = i * width
                for k in 0..<width { acc[0][k] += x[base + k] }
                i += 1
            }
            for j in 1..<levels {
                for k in 0..<width {
                    acc[j][k] += acc[j - 1][k]
                    acc[j - 1][k] = 0
                }
                if i & (mask << (j * power)) != 0 { break }
            }
        }
        while i < rows {
            let base = i * width
            for k in 0..<width { acc[0][k] += x[base + k] }
            i += 1
        }
        for j in 1..<levels {
            for k in 0..<width { acc[0][k] += acc[j][k] }
        }
        return acc[0]
    }

    /// ATen's `CeilLog2`: 1 for x ≤ 2, else the bit length of x - 1.
    static func ceilLog2(_ x: Int) -> Int {
        x <= 2 ? 1 : (Int.bitWidth - (x - 1).leadingZeroBitCount)
    }
}
