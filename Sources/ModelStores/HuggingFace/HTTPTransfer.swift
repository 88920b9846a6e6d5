// One HTTP exchange over URLSession (FoundationNetworking on Linux), run synchronously: the
// caller blocks while the delegate queue streams the body into a sink. Redirects are followed
// or not per request, and the token is dropped when a redirect leaves the hub's host (the
// hub sends LFS downloads on to a CDN, which must not see it), as `requests` does.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The status line and headers of a response.
struct HTTPHead: Sendable {
    /// HTTP status code.
    let status: Int
    /// Header values by lower-cased name.
    let headers: [String: String]
    /// The URL that answered (after redirects).
    let url: URL

    subscript(_ name: String) -> String? { headers[name.lowercased()] }
}

/// What a request does with redirects.
enum RedirectPolicy: Sendable {
    /// Report the 3xx response itself.
    case none
    /// Follow redirects that stay on the same scheme, host and port (a renamed repository).
    case sameHost
    /// Follow all (a CDN), without the Authorization header once the host changes.
    case all
}

/// Receives body bytes in order; throwing cancels the transfer.
typealias BodySink = (UnsafeRawBufferPointer) throws -> Void

/// Runs HTTP requests one at a time, synchronously.
enum HTTPTransfer {
    /// Sends `request`. `onHead` sees the final response head and returns a sink for the body,
    /// or nil to have the body collected (up to 16 MiB: model info, error messages) and returned. Network failures throw the
    /// URLError; a sink's or `onHead`'s error is rethrown as is.
    static func perform(_ request: URLRequest, redirects: RedirectPolicy,
                        onHead: @escaping (HTTPHead) throws -> BodySink?) throws -> (head: HTTPHead, body: Data, streamed: Int64) {
        let exchange = Exchange(original: request, redirects: redirects, onHead: onHead)
        Dispatcher.shared.start(request, exchange)
        exchange.done.wait()
        return try exchange.result()
    }

    /// One URLSession for every transfer, handing each task's callbacks to its exchange. (A
    /// session made and invalidated per request crashed swift-corelibs-foundation now and then —
    /// "attempted to read an unowned reference but object was already destroyed" inside
    /// dataTask(with:), seen in CI — so the session lives as long as the process.)
    private final class Dispatcher: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        static let shared = Dispatcher()
        private let lock = NSLock()
        private var exchanges: [Int: Exchange] = [:]
        private var session: URLSession!

        override init() {
            super.init()
            let configuration = URLSessionConfiguration.ephemeral
            configuration.timeoutIntervalForRequest = 60  // idle time between bytes (reset on every chunk)
            configuration.timeoutIntervalForResource = 7 * 24 * 3600
            configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
            configuration.urlCache = nil
            session = URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
        }

        func start(_ request: URLRequest, _ exchange: Exchange) {
            let task = session.dataTask(with: request)
            lock.withLock { exchanges[task.taskIdentifier] = exchange }
            task.resume()
        }

        private func exchange(_ task: URLSessionTask) -> Exchange? { lock.withLock { exchanges[task.taskIdentifier] } }

        func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
            guard let e = exchange(task) else { return completionHandler(nil) }
            e.urlSession(session, task: task, willPerformHTTPRedirection: response, newRequest: request, completionHandler: completionHandler)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            guard let e = exchange(dataTask) else { return completionHandler(.cancel) }
            e.urlSession(session, dataTask: dataTask, didReceive: response, completionHandler: completionHandler)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            exchange(dataTask)?.urlSession(session, dataTask: dataTask, didReceive: data)
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            let e = lock.withLock { exchanges.removeValue(forKey: task.taskIdentifier) }
            e?.urlSession(session, task: task, didCompleteWithError: error)
        }
    }

    /// The state of one exchange, touched by the delegate queue and read after `done`.
    private final class Exchange: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        private let original: URLRequest
        private let redirects: RedirectPolicy
        private let onHead: (HTTPHead) throws -> BodySink?
        private let lock = NSLock()
        private var head: HTTPHead?
        private var sink: BodySink?
        private var body = Data()
        private var streamed: Int64 = 0
        private var failure: Error?
        private var callbackError: Error?

        init(original: URLRequest, redirects: RedirectPolicy, onHead: @escaping (HTTPHead) throws -> BodySink?) {
            self.original = original
            self.redirects = redirects
            self.onHead = onHead
        }

        func result() throws -> (head: HTTPHead, body: Data, streamed: Int64) {
            lock.lock(); defer { lock.unlock() }
            if let callbackError { throw callbackError }
            if let failure { throw failure }
            guard let head else { throw URLError(.badServerResponse) }
            return (head, body, streamed)
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
            let from = original.url, to = request.url
            let sameHost = from?.scheme == to?.scheme && from?.host == to?.host && from?.port == to?.port
            switch redirects {
            case .none: completionHandler(nil)
            case .sameHost: completionHandler(sameHost ? request : nil)
            case .all:
                var next = request
                if !sameHost { next.setValue(nil, forHTTPHeaderField: "Authorization") }
                completionHandler(next)
            }
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            guard let http = response as? HTTPURLResponse else {
                lock.withLock { callbackError = URLError(.badServerResponse) }
                completionHandler(.cancel)
                return
            }
            var headers: [String: String] = [:]
            for (k, v) in http.allHeaderFields {
                if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
            }
            let h = HTTPHead(status: http.statusCode, headers: headers, url: http.url ?? original.url!)
            do {
                let s = try onHead(h)
                lock.withLock { head = h; sink = s }
                completionHandler(.allow)
            } catch {
                lock.withLock { head = h; callbackError = error }
                completionHandler(.cancel)
            }
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            lock.lock(); defer { lock.unlock() }
            guard callbackError == nil else { return }
            if let sink {
                do {
                    try data.withUnsafeBytes { try sink($0) }
                    streamed += Int64(data.count)
                } catch {
                    callbackError = error
                    dataTask.cancel()
                }
            } else if body.count < 16 << 20 {
                body.append(data.prefix((16 << 20) - body.count))
            }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            lock.withLock {
                if head == nil, let http = task.response as? HTTPURLResponse {
                    // A 3xx left unfollowed may complete without a didReceive(response:) call.
                    var headers: [String: String] = [:]
                    for (k, v) in http.allHeaderFields {
                        if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
                    }
                    head = HTTPHead(status: http.statusCode, headers: headers, url: http.url ?? original.url!)
                }
                if let error, callbackError == nil { failure = error }
            }
            done.signal()
        }
    }
}
