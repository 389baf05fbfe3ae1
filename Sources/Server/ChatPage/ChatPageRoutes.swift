import Foundation
import HTTPTypes
import Hummingbird
import JSON
import NIOCore
import Store

/// The chat page at `/chat`: one HTML document, its style sheet and two scripts, all string
/// literals compiled into the binary (no CDN, no build step, works offline). The page talks to
/// Hearth through the same API every client uses (`/api/chat`, `/api/tags`, `/api/pull`,
/// `/api/usage`), from the same origin.
///
/// With `--api-key` the page's own files need no key — they are the same bytes for everyone and
/// hold no data — so a browser can load the page, which then asks for the key, keeps it in the
/// browser (localStorage) and sends it as `Authorization: Bearer KEY` on every API call. Every
/// route that reads or changes state still needs the key.
enum ChatPage {
    /// The page's files: path → (content type, body).
    static let assets: [String: (contentType: String, body: String)] = [
        "/chat": ("text/html; charset=utf-8", html),
        "/chat/app.css": ("text/css; charset=utf-8", style),
        "/chat/markdown.js": ("text/javascript; charset=utf-8", markdownScript),
        "/chat/store.js": ("text/javascript; charset=utf-8", storeScript),
        "/chat/app.js": ("text/javascript; charset=utf-8", appScript),
        "/chat/catalog.json": ("application/json", catalogJSON),
    ]

    /// Scripts only from the page's own files (no inline script, no `eval`), so text a model
    /// wrote can never run even if it reached the document as markup; no plugins, frames or
    /// form posts; fetches only to this server.
    static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
        "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

    /// The catalog (what `/api/pull` can fetch), for the page's model picker: built in, like the page.
    static let catalogJSON = JSONValue.array(Catalog.builtIn.entries.map { entry in
        .object(["name": .string(entry.name), "summary": .string(entry.summary), "size": .int(Int(entry.size))])
    }).serialized

    /// Requests the security middleware lets through without the API key: the page's files, and
    /// a browser's visit to `/` (sent on to the page).
    static func isPublic(_ request: Request) -> Bool {
        guard request.method == .get else { return false }
        let path = request.uri.path
        return assets[path] != nil || (path == "/" && prefersHTML(request.headers[.accept]))
    }

    /// True when an `Accept` header asks for HTML at least as much as for anything else — a
    /// browser's navigation (`text/html,…,*/*;q=0.8`) — and not for curl's `*/*` or a client
    /// that sends none. Ollama's clients probing `/` keep getting the plain-text answer.
    static func prefersHTML(_ accept: String?) -> Bool {
        guard let accept else { return false }
        var html: Double?
        var best = 0.0
        for item in accept.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = parts.first, !type.isEmpty else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)) ?? 0
            }
            if type == "text/html" { html = max(html ?? 0, quality) }
            best = max(best, quality)
        }
        guard let html, html > 0 else { return false }
        return html >= best
    }

    static func response(for path: String) -> Response? {
        guard let asset = assets[path] else { return nil }
        var headers: HTTPFields = [.contentType: asset.contentType, .cacheControl: "no-cache", .xContentTypeOptions: "nosniff"]
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: asset.body)))
    }
}

extension HearthServer {
    /// `/chat` and its files; `/` sends a browser there and answers everyone else as Ollama does.
    func addChatPageRoutes(to router: Router<HearthRequestContext>) {
        for path in ChatPage.assets.keys {
            router.get(RouterPath(path)) { _, _ in ChatPage.response(for: path)! }
        }
        // Ollama's clients probe the root (the Go CLI with HEAD) before anything else.
        router.get("/") { request, _ in
            if ChatPage.prefersHTML(request.headers[.accept]) {
                return Response(status: .found, headers: [.location: "/chat"])
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: "Ollama is running (Hearth \(HearthServer.version))")))
        }
        router.head("/") { _, _ in Response(status: .ok) }
    }
}
