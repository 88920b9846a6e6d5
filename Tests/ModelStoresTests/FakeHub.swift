// A Hugging Face hub imitated on loopback for the download tests: the model-info API, HEAD and
// GET on resolve/ with the hub's headers (X-Repo-Commit, ETag, X-Linked-Etag, X-Linked-Size,
// X-Error-Code), LFS files redirected to a second server standing in for the CDN (another
// port, so another host as far as the token goes), Range requests, and faults on demand:
// a transfer cut off mid-file, a wrong announced hash, a required token.
import Foundation
import TestSupport
@testable import ModelStores

final class FakeHub: @unchecked Sendable {
    struct Repository {
        var files: [String: Data]
        var etags: [String: String]
        var commit: String
        var refs: [String: String]
    }

    private let lock = NSLock()
    private var repositories: [String: Repository] = [:]
    private var token: String?
    private var cuts: [String: (after: Int, times: Int)] = [:]
    private var wrongHash: Set<String> = []
    private(set) var hub: LoopbackHTTPServer!
    private(set) var cdn: LoopbackHTTPServer!

    var endpoint: String { hub.baseURL }

    init() throws {
        hub = try LoopbackHTTPServer { [unowned self] in self.answerHub($0) }
        cdn = try LoopbackHTTPServer { [unowned self] in self.answerCDN($0) }
    }

    deinit {
        hub.stop()
        cdn.stop()
    }

    /// Serves `files` as `repository` with `main` (and any `refs`) at `commit`.
    func add(_ repository: String, files: [String: Data], commit: String = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
             refs: [String: String] = [:]) {
        let etags = Dictionary(uniqueKeysWithValues: files.map { ($0.key, Self.etag($0.key, $0.value)) })
        lock.withLock {
            repositories[repository] = Repository(files: files, etags: etags, commit: commit,
                                                  refs: ["main": commit].merging(refs) { $1 })
        }
    }

    /// Every request must carry `Bearer token` (nil: none needed).
    func requireToken(_ token: String?) { lock.withLock { self.token = token } }
    /// The next `times` GETs of `file`'s bytes are cut after `after` bytes.
    func cut(_ file: String, after: Int, times: Int = 1) { lock.withLock { cuts[file] = (after, times) } }
    /// Stops cutting transfers.
    func stopCutting() { lock.withLock { cuts.removeAll() } }
    /// Announces a wrong SHA-256 for `file`.
    func announceWrongHash(_ file: String) { lock.withLock { _ = wrongHash.insert(file) } }

    /// Every request to either server: hub first, then CDN.
    var requests: [LoopbackHTTPServer.Request] { hub.requests + cdn.requests }

    static func isLFS(_ file: String) -> Bool { file.hasSuffix(".safetensors") || file.hasSuffix(".gguf") || file.hasSuffix(".bin") }

    static func etag(_ file: String, _ data: Data) -> String {
        data.withUnsafeBytes { bytes in
            if isLFS(file) {
                var h = SHA256()
                h.update(bytes)
                return h.finalize().hexString
            }
            var h = SHA1.gitBlob(count: data.count)
            h.update(bytes)
            return h.finalize().hexString
        }
    }

    // MARK: Hub

    private func error(_ status: Int, code: String?, _ message: String) -> LoopbackHTTPServer.Response {
        var headers = [("Content-Type", "application/json"), ("X-Error-Message", message)]
        if let code { headers.append(("X-Error-Code", code)) }
        return .init(status: status, headers: headers, body: Data("{\"error\":\"\(message)\"}".utf8))
    }

    private func answerHub(_ request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        lock.lock(); defer { lock.unlock() }
        if let token, request.headers["authorization"] != "Bearer \(token)" {
            return request.headers["authorization"] == nil ? error(401, code: nil, "Access to this repository requires a token")
                                                           : error(401, code: nil, "Invalid credentials in Authorization header")
        }
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // /api/models/ORG/NAME/revision/REV
        if parts.count >= 7, parts[1] == "api", parts[2] == "models", parts[5] == "revision" {
            let repoName = parts[3] + "/" + parts[4]
            guard let repo = repositories[repoName] else { return error(404, code: "RepoNotFound", "Repository not found") }
            let revision = parts[6...].joined(separator: "/")
            guard let commit = commitFor(revision, in: repo) else { return error(404, code: "RevisionNotFound", "Invalid rev id: \(revision)") }
            let siblings = repo.files.keys.sorted().map { ["rfilename": $0] }
            let body = try! JSONSerialization.data(withJSONObject: ["id": repoName, "sha": commit, "siblings": siblings], options: [.sortedKeys])
            return .init(status: 200, headers: [("Content-Type", "application/json")], body: body)
        }
        // /ORG/NAME/resolve/REV/FILE…
        guard parts.count >= 6, parts[3] == "resolve" else { return error(404, code: nil, "Not found") }
        let repoName = parts[1] + "/" + parts[2]
        guard let repo = repositories[repoName] else { return error(404, code: "RepoNotFound", "Repository not found") }
        guard let commit = commitFor(parts[4], in: repo) else { return error(404, code: "RevisionNotFound", "Invalid rev id") }
        let file = parts[5...].joined(separator: "/")
        guard let data = repo.files[file] else { return error(404, code: "EntryNotFound", "\(file) does not exist") }
        var etag = repo.etags[file]!
        if wrongHash.contains(file) { etag = SHA256.hash(Array("something else".utf8)).hexString }
        if Self.isLFS(file) {
            // As the hub does: 302 to the CDN, the LFS etag and size in X-Linked-*.
            return .init(status: 302, headers: [("Location", "\(cdn.baseURL)/\(repoName)/\(file)?commit=\(commit)"),
                                               ("X-Repo-Commit", commit), ("X-Linked-Etag", "\"\(etag)\""),
                                               ("X-Linked-Size", "\(data.count)"), ("ETag", "W/\"pointer-etag\""),
                                               ("Content-Length", "0")])
        }
        return body(data, file: file, request: request, headers: [("X-Repo-Commit", commit), ("ETag", "\"\(etag)\"")])
    }

    private func commitFor(_ revision: String, in repo: Repository) -> String? {
        if let c = repo.refs[revision] { return c }
        return revision == repo.commit ? revision : nil
    }

    // MARK: CDN

    private func answerCDN(_ request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        lock.lock(); defer { lock.unlock() }
        let parts = request.path.split(separator: "/").map(String.init)
        guard parts.count >= 3, let repo = repositories[parts[0] + "/" + parts[1]],
              let data = repo.files[parts[2...].joined(separator: "/")] else { return .init(status: 404) }
        return body(data, file: parts[2...].joined(separator: "/"), request: request, headers: [])
    }

    /// The bytes of a file, honouring `Range: bytes=N-` and any cut planned for it.
    private func body(_ data: Data, file: String, request: LoopbackHTTPServer.Request,
                      headers: [(String, String)]) -> LoopbackHTTPServer.Response {
        var response = LoopbackHTTPServer.Response(status: 200, headers: headers + [("Content-Length", "\(data.count)")], body: data)
        if let range = request.headers["range"], range.hasPrefix("bytes="), range.hasSuffix("-"),
           let start = Int(range.dropFirst(6).dropLast()) {
            guard start < data.count else { return .init(status: 416, headers: [("Content-Range", "bytes */\(data.count)")]) }
            response = .init(status: 206, headers: headers + [("Content-Range", "bytes \(start)-\(data.count - 1)/\(data.count)"),
                                                             ("Content-Length", "\(data.count - start)")],
                             body: data.subdata(in: start..<data.count))
        }
        if request.method == "GET", let cut = cuts[file], cut.times > 0 {
            cuts[file] = cut.times == 1 ? nil : (cut.after, cut.times - 1)
            response.cutAfter = cut.after
        }
        return response
    }
}
