// The dataset's batch iterator as the trainer's rewindable batch stream: its cursor is
// the iterator state (epoch, position, seed) as JSON.
import Foundation

extension BatchIterator: BatchStream {
    public var cursor: Data {
        // Encoding three integers cannot fail.
        (try? JSONEncoder().encode(state)) ?? Data()
    }

    public mutating func restore(_ cursor: Data) throws {
        do { state = try JSONDecoder().decode(BatchIteratorState.self, from: cursor) } catch {
            throw TrainingError.invalidCheckpoint(path: "trainer_state.json", reason: "data_cursor is not a batch iterator state")
        }
    }
}
