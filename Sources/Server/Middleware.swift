import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1

/// Turns every error into a status and a body in the API's own shape (`/api/…` is Ollama's,
/// `/v1/messages…` Anthropic's, the rest OpenAI's), and counts requests by route and status.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let route = Self.routeLabel(request.uri.path)
        var response: Response
        let routing = RoutingNote()
        do {
            response = try await RoutingNote.$current.withValue(routing) {
                try await RequestRoute.$current.withValue(route) { try await next(request, context) }
            }
        } catch {
            response = Self.response(for: Self.apiError(error), path: request.uri.path)
        }
        // `model: "auto"`: which model answered, and why.
        if let decision = routing.decision, let modelField = HTTPField.Name("X-Hearth-Model"), let reasonField = HTTPField.Name("X-Hearth-Router") {
            response.headers[modelField] = decision.model
            response.headers[reasonField] = String(decision.reason.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? Character($0) : "?" })
        }
        metrics.recordRequest(route: route, status: Int(response.status.code))
        return response
    }

    static func apiError(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, "the request body is larger than the limit")
        case let error as HTTPParserError:
            // Broken framing (a bad chunk size, a body shorter than announced): the client's
            // mistake, and nothing more can be read from the connection after it.
            var apiError = APIError(.badRequest, "malformed HTTP request: \(error)")
            apiError.headers[.connection] = "close"
            return apiError
        case let error as any HTTPResponseError:
            let message = error.status == .notFound ? "no such route" : "\(error.status.reasonPhrase)"
            return APIError(error.status, message)
        case is CancellationError:
            return APIError(.serviceUnavailable, "the request was cancelled")
        default:
            return APIError(.internalServerError, "internal error: \(error)")
        }
    }

    static func response(for error: APIError, path: String) -> Response {
        let body = path.hasPrefix("/api/") ? error.ollamaBody : path.hasPrefix("/v1/messages") ? error.anthropicBody : error.openAIBody
        var response = Reply.json(body, status: error.status)
        for field in error.headers { response.headers.append(field) }
        return response
    }

    /// Known routes by name; anything else is one label, so a scan cannot blow up the metrics.
    static func routeLabel(_ path: String) -> String {
        let known: Set<String> = [
            "/", "/health", "/health/live", "/health/ready", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings",
            "/api/tags", "/api/show", "/api/chat", "/api/generate", "/api/ps", "/api/version", "/api/pull",
            "/api/delete", "/api/embed", "/api/embeddings", "/api/copy", "/api/create", "/api/usage", "/v1/messages", "/v1/messages/count_tokens",
        ]
        if known.contains(path) { return path }
        if path.hasPrefix("/v1/models/") { return "/v1/models/{id}" }
        if path.hasPrefix("/api/blobs/") { return "/api/blobs/{digest}" }
        if path == "/chat" || ChatPage.assets[path] != nil { return path }
        if path == "/v1/responses" { return path }
        if path.hasPrefix("/v1/responses/") { return path.hasSuffix("/input_items") ? "/v1/responses/{id}/input_items" : "/v1/responses/{id}" }
        return "other"
    }
}

/// Secure by default: the Host header of a loopback server must name this machine (DNS
/// rebinding), browsers only from allowed origins (CORS), and the API key on every route but
/// `/health` (with `/health/live` and `/health/ready`) and the chat page's files (``ChatPage/isPublic(_:)``).
struct SecurityMiddleware<Context: RequestContext>: RouterMiddleware {
    let configuration: ServerConfiguration
    let policy: HostPolicy

    init(configuration: ServerConfiguration) {
        self.configuration = configuration
        self.policy = HostPolicy(extraHosts: configuration.allowedHosts, extraOrigins: configuration.allowedOrigins)
    }

    /// What a preflight allows when the browser does not list its headers: what the OpenAI,
    /// Anthropic and Ollama SDKs send.
    static var defaultAllowedHeaders: String {
        ["Authorization", "Content-Type", "User-Agent", "Accept", "X-Requested-With", "OpenAI-Organization", "OpenAI-Project",
         "X-Stainless-Lang", "X-Stainless-Package-Version", "X-Stainless-OS", "X-Stainless-Arch", "X-Stainless-Runtime",
         "X-Stainless-Runtime-Version", "X-Stainless-Async", "X-Stainless-Retry-Count", "X-Stainless-Timeout",
         "X-Stainless-Helper-Method", "X-API-Key", "Anthropic-Version", "Anthropic-Beta"].joined(separator: ", ")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if let problem = request.headers[RequestLineGuard.framingProblemField] {
            var error = APIError(.badRequest, problem)
            error.headers[.connection] = "close"
            throw error
        }
        // HTTP/1's Host header arrives as the authority; a request built without one keeps it as a field.
        let hostFields = request.headers[values: HTTPField.Name("Host")!]
        // The first Host header becomes the authority; another one is still a field. Two Host
        // headers are a request smuggling attempt or a broken proxy (RFC 9112 § 3.2: 400).
        if hostFields.count > (request.head.authority == nil ? 1 : 0) {
            throw APIError(.badRequest, "more than one Host header")
        }
        let authority = request.head.authority ?? hostFields.first
        if let authority, !authority.isEmpty, HostPolicy.hostName(authority) == nil {
            throw APIError(.badRequest, "malformed Host header '\(authority)': expected host[:port] or [IPv6]:port")
        }
        if configuration.isLoopback, let authority, !policy.allowsHost(authority) {
            throw APIError(.forbidden, "host '\(authority)' is not allowed: this server only answers to names of this machine (start it with --allowed-host to add one)")
        }
        let origin = request.headers[.origin]
        if let origin, !policy.allowsOrigin(origin), !isSameOrigin(origin, authority: authority) {
            throw APIError(.forbidden, "origin '\(origin)' is not allowed (start the server with --allowed-origin to allow it)")
        }
        if request.method == .options, let origin {
            // A CORS preflight from an allowed origin: the headers it asks for are allowed (the
            // origin is trusted, and SDKs add new x-stainless-* headers often).
            var response = Response(status: .noContent)
            Self.addCORSHeaders(to: &response, origin: origin)
            response.headers[.accessControlAllowMethods] = "GET, POST, DELETE, OPTIONS, HEAD"
            response.headers[.accessControlAllowHeaders] = request.headers[.accessControlRequestHeaders] ?? Self.defaultAllowedHeaders
            response.headers[.accessControlMaxAge] = "600"
            return response
        }
        // The chat page's own files are public (they hold no data; the page then asks for the key).
        if let key = configuration.apiKey, path != "/health", !path.hasPrefix("/health/"), !ChatPage.isPublic(request) {
            // Anthropic's clients send the key as `x-api-key`; either header may carry it.
            let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? Array($0.utf8.dropFirst(7)) : nil }
            let apiKey = request.headers[Self.apiKeyHeader].map { Array($0.utf8) }
            let presented = [bearer, apiKey].compactMap { $0 }
            guard presented.contains(where: { Self.constantTimeEqual($0, Array(key.utf8)) }) else {
                var error = APIError(.unauthorized, "missing or wrong API key: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'")
                error.headers[.wwwAuthenticate] = "Bearer"
                throw error
            }
        }
        var response = try await next(request, context)
        if let origin { Self.addCORSHeaders(to: &response, origin: origin) }
        return response
    }

    static var apiKeyHeader: HTTPField.Name { HTTPField.Name("x-api-key")! }

    /// A page this server served calling it back (the chat page opened at a LAN address of a
    /// server on `--host 0.0.0.0`): the origin is the request's own authority. Only for names
    /// the host policy accepts (this machine's, private addresses, `--allowed-host`), which a
    /// DNS-rebinding page, whose origin names the attacker's domain, cannot be.
    func isSameOrigin(_ origin: String, authority: String?) -> Bool {
        guard let authority, !authority.isEmpty, policy.allowsHost(authority) else { return false }
        let origin = origin.lowercased()
        return origin == "http://" + authority.lowercased() || origin == "https://" + authority.lowercased()
    }


    static func addCORSHeaders(to response: inout Response, origin: String) {
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.vary] = "Origin"
    }

    /// Compares without an early exit, so timing does not reveal how much of a guess was right.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
