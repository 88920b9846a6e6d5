// A binary heap shared by the two merge loops: byte-level BPE pops the lowest (rank, position)
// merge, SentencePiece the highest-scoring bigram. Each element type says which of two
// elements comes out first; ties keep the heap's order, so both loops pop exactly as before.

/// An element of a `PriorityHeap`.
protocol HeapPriority {
    /// True when `a` must come out of the heap before `b`.
    static func heapPrecedes(_ a: Self, _ b: Self) -> Bool
}

/// A binary heap whose top is the element that precedes all others.
struct PriorityHeap<Element: HeapPriority> {
    private var items: [Element] = []

    mutating func push(_ item: Element) {
        items.append(item)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !Element.heapPrecedes(items[i], items[parent]) { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> Element? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && Element.heapPrecedes(items[l], items[m]) { m = l }
                if r < items.count && Element.heapPrecedes(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
