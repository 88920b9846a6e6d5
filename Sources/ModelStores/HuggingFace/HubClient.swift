// The hub's HTTP API, the three calls huggingface_hub's `snapshot_download` makes:
//   GET  /api/models/ORG/NAME/revision/REV      → {"sha": commit, "siblings": [{"rfilename"}…]}
//   HEAD /ORG/NAME/resolve/COMMIT/FILE          → X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size
//   GET  /ORG/NAME/resolve/COMMIT/FILE [Range]  → the bytes (LFS files via a redirect to a CDN)
// and the mapping of the hub's refusals (X-Error-Code, 401, 404) to `ModelStoreError`.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What the hub says about a repository at a revision.
struct HubRepositoryInfo: Sendable, Equatable {
    /// The commit the revision points at.
    let commit: String
    /// Every file path in the repository at that commit.
    let files: [String]
}

/// What a HEAD on a file says.
struct HubFileMetadata: Sendable, Equatable {
    /// The file's etag, without quotes: SHA-256 for LFS files, the git blob id otherwise.
    let etag: String
    /// Size in bytes.
    let size: Int64
    /// The commit that served it.
    let commit: String?
}

/// Talks to one hub endpoint with an optional token.
struct HubClient: Sendable {
    /// e.g. https://huggingface.co (no trailing slash).
    let endpoint: String
    /// Sent as `Authorization: Bearer …` to the endpoint's host only.
    let token: String?

    static let userAgent = "lorikeet; hf_hub/compatible"

    /// `GET /api/models/ORG/NAME/revision/REV`.
    func repositoryInfo(_ ref: HubModelReference) throws -> HubRepositoryInfo {
        let url = try makeURL("/api/models/\(ref.repository)/revision/\(Self.escape(ref.revision, keepSlashes: false))")
        let (head, body, _) = try send(request(url, method: "GET"), redirects: .sameHost) { _ in nil }
        guard head.status == 200 else { throw refusal(head, body: body, ref: ref, file: nil) }
        struct Info: Decodable {
            struct Sibling: Decodable { let rfilename: String }
            let sha: String?
            let siblings: [Sibling]?
        }
        guard let info = try? JSONDecoder().decode(Info.self, from: body), let sha = info.sha, HubModelReference.isCommit(sha) else {
            throw ModelStoreError.hubHTTP(url: url.absoluteString, status: head.status, detail: "model info without a commit sha")
        }
        return HubRepositoryInfo(commit: sha, files: (info.siblings ?? []).map(\.rfilename))
    }

    /// The download URL of `file` at `commit`.
    func fileURL(_ ref: HubModelReference, commit: String, file: String) throws -> URL {
        try makeURL("/\(ref.repository)/resolve/\(commit)/\(Self.escape(file, keepSlashes: true))")
    }

    /// `HEAD` on a file: its etag, size and commit, read from the hub's own answer (a redirect
    /// to the CDN is not followed; one within the hub, for a renamed repository, is).
    func metadata(_ ref: HubModelReference, commit: String, file: String) throws -> HubFileMetadata {
        let url = try fileURL(ref, commit: commit, file: file)
        var r = request(url, method: "HEAD")
        r.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        let (head, body, _) = try send(r, redirects: .sameHost) { _ in nil }
        guard (200..<400).contains(head.status) else { throw refusal(head, body: body, ref: ref, file: file) }
        guard let etag = (head["x-linked-etag"] ?? head["etag"]).map(Self.normalizeETag), !etag.isEmpty else {
            throw ModelStoreError.hubHTTP(url: url.absoluteString, status: head.status, detail: "no ETag for \(file)")
        }
        guard let size = (head["x-linked-size"] ?? head["content-length"]).flatMap({ Int64($0) }), size >= 0 else {
            throw ModelStoreError.hubHTTP(url: url.absoluteString, status: head.status, detail: "no size for \(file)")
        }
        return HubFileMetadata(etag: etag, size: size, commit: head["x-repo-commit"])
    }

    /// `GET` on a file from byte `offset`, following redirects; `onHead` checks a successful
    /// final response and returns the sink for its body. Returns the final head, the body of a
    /// refusal, and the bytes streamed.
    func download(_ url: URL, from offset: Int64,
                  onHead: @escaping (HTTPHead) throws -> BodySink) throws -> (head: HTTPHead, body: Data, streamed: Int64) {
        var r = request(url, method: "GET")
        r.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        if offset > 0 { r.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        return try send(r, redirects: .all) { head in
            (200..<300).contains(head.status) ? try onHead(head) : nil
        }
    }

    // MARK: Requests and refusals

    func request(_ url: URL, method: String) -> URLRequest {
        var r = URLRequest(url: url)
        r.httpMethod = method
        r.setValue(Self.userAgent, forHTTPHeaderField: "User-Agent")
        if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        return r
    }

    func send(_ request: URLRequest, redirects: RedirectPolicy,
              onHead: @escaping (HTTPHead) throws -> BodySink?) throws -> (head: HTTPHead, body: Data, streamed: Int64) {
        do {
            return try HTTPTransfer.perform(request, redirects: redirects, onHead: onHead)
        } catch let e as ModelStoreError {
            throw e  // from our own callbacks (a disk error, a bad Content-Range)
        } catch {
            throw ModelStoreError.hubNetwork(url: request.url?.absoluteString ?? endpoint, reason: Self.describe(error))
        }
    }

    func makeURL(_ path: String) throws -> URL {
        guard let url = URL(string: endpoint + path), url.scheme == "http" || url.scheme == "https" else {
            throw ModelStoreError.hubHTTP(url: endpoint + path, status: 0, detail: "HF_ENDPOINT is not an http(s) address")
        }
        return url
    }

    /// The `ModelStoreError` for a non-success answer, read from the hub's X-Error-Code
    /// (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) and the status.
    func refusal(_ head: HTTPHead, body: Data, ref: HubModelReference, file: String?) -> ModelStoreError {
        let url = head.url.absoluteString
        let message = head["x-error-message"] ?? Self.errorText(body)
        switch (head["x-error-code"], head.status) {
        case ("RepoNotFound", _):
            return .hubRepositoryNotFound(repository: ref.repository, url: url, tokenSent: token != nil)
        case ("RevisionNotFound", _):
            return .hubRevisionNotFound(repository: ref.repository, revision: ref.revision, url: url)
        case ("GatedRepo", _):
            return .hubGated(repository: ref.repository, url: url, detail: message)
        case ("EntryNotFound", _):
            return .hubFileNotFound(repository: ref.repository, revision: ref.revision, file: file ?? "?", available: [])
        case (_, 401), (_, 403):
            return .hubUnauthorized(repository: ref.repository, url: url, tokenSent: token != nil, detail: message)
        case (_, 404):
            if let file { return .hubFileNotFound(repository: ref.repository, revision: ref.revision, file: file, available: []) }
            return .hubRepositoryNotFound(repository: ref.repository, url: url, tokenSent: token != nil)
        default:
            return .hubHTTP(url: url, status: head.status, detail: message)
        }
    }

    /// The `error` field of a JSON error body, or its first line.
    static func errorText(_ body: Data) -> String {
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let e = object["error"] as? String { return e }
        return String(decoding: body.prefix(200), as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
    }

    /// `W/"abc"` → `abc`, as huggingface_hub normalises etags.
    static func normalizeETag(_ etag: String) -> String {
        var e = Substring(etag.trimmingCharacters(in: .whitespaces))
        if e.hasPrefix("W/") { e = e.dropFirst(2) }
        return e.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    /// Percent-encodes a path segment (a revision like `refs/pr/1` becomes one segment).
    static func escape(_ s: String, keepSlashes: Bool) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
                                   + (keepSlashes ? "/" : ""))
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    static func describe(_ error: Error) -> String {
        guard let e = error as? URLError else { return (error as NSError).localizedDescription }
        return switch e.code {
        case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed: "cannot connect (\(e.localizedDescription))"
        case .timedOut: "timed out"
        case .networkConnectionLost: "the connection was lost mid-transfer"
        case .notConnectedToInternet: "no network"
        default: e.localizedDescription
        }
    }
}
