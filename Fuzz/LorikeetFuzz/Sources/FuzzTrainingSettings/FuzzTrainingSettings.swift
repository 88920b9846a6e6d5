// libFuzzer target: a run's YAML settings file and, the same bytes, a saved run's config.json,
// each resolved into a validated TrainingConfiguration as `lorikeet train` does.
import Foundation
import Lorikeet
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrainingSettings(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let data = Fuzz.data(bytes, size)
    if let file = try? TrainingSettings(yaml: String(decoding: data, as: UTF8.self), path: "run.yaml") {
        _ = try? TrainingConfiguration.resolve(file: file)
    }
    if let saved = try? TrainingSettings(savedRun: data, path: "config.json") {
        _ = try? TrainingConfiguration.resolve(savedRun: saved)
    }
    return 0
}

@_cdecl("FuzzTrainingSettings_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzTrainingSettings)
}
