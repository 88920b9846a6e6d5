// Many adapters over one base in one batch: the router is attached as the model's adapters (one
// shim per linear module) and told, before each forward pass, which rows belong to which adapter.
// Rows come ordered by adapter, so each adapter's rows are one contiguous run and its products
// read and write the batch in place (Tape.loraLinearRows); the base product runs once for all.
import Foundation
import TensorCore
import Llama
import FineTuning

/// Which adapter each row of the next forward pass uses, and the adapters by name.
final class AdapterRouter: @unchecked Sendable {
    /// Loaded adapters by the name requests use.
    private(set) var adapters: [String: LoRAAdapter] = [:]
    /// The next pass's rows: (adapter name, rows), nil name = the base alone.
    var groups: [(name: String?, rows: Range<Int>)] = []
    private var shims: [String: RoutedLinear] = [:]

    /// Adds (or replaces) `name`, and routes every module any adapter adapts.
    func add(_ adapter: LoRAAdapter, named name: String, to model: LlamaModel) {
        adapters[name] = adapter
        for path in adapter.layers.keys where shims[path] == nil { shims[path] = RoutedLinear(path: path, router: self) }
        model.adapters = shims
    }

    /// Removes `name`; returns false when there was none.
    @discardableResult
    func remove(_ name: String) -> Bool { adapters.removeValue(forKey: name) != nil }

    /// Each group's LoRA pair for `path` (groups whose adapter does not adapt it get the base only).
    func rows(for path: String) -> [LoRARows] {
        groups.compactMap { g in
            guard let name = g.name, let layer = adapters[name]?.layers[path] else { return nil }
            return LoRARows(rows: g.rows, a: layer.a.value, b: layer.b.value, scale: layer.scale)
        }
    }
}

/// The adapter hook of one linear module: the base for every row, plus each group's own pair.
final class RoutedLinear: LinearAdapter {
    let path: String
    unowned let router: AdapterRouter

    init(path: String, router: AdapterRouter) {
        self.path = path
        self.router = router
    }

    func forward(_ tape: Tape, input x: Var, weight: Var, bias: Var?, context: AdapterContext) throws -> Var {
        let groups = router.rows(for: path)
        if groups.isEmpty { return try tape.linear(x, weight: weight, bias: bias) }
        return try tape.loraLinearRows(x, weight: weight, bias: bias, groups: groups)
    }
}
