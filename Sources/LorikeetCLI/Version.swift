// The version printed by `lorikeet --version`.
enum LorikeetVersion {
    static let string = "0.1.0"
}
