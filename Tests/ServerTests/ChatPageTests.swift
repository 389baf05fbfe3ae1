import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import Server

/// The chat page's routes and what they must not change: Ollama's probe of `/`, and the API key
/// on every route that holds data. (The page itself is tested in a browser:
/// Tests/clients/test_chat_page.py.)
@Suite struct ChatPageTests {
    static let browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

    @Test func rootAnswersOllamaClientsAndSendsBrowsersToThePage() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            for accept in [nil, "*/*", "application/json", "text/plain, */*", "text/html;q=0.5, */*"] {
                let headers: HTTPFields = accept.map { [.accept: $0] } ?? [:]
                try await client.execute(uri: "/", method: .get, headers: headers) { response in
                    #expect(response.status == .ok, "\(accept ?? "no Accept")")
                    #expect(String(buffer: response.body) == "Ollama is running (Hearth \(HearthServer.version))")
                    #expect(response.headers[.contentType] == "text/plain; charset=utf-8")
                }
            }
            try await client.execute(uri: "/", method: .head) { #expect($0.status == .ok) }
            try await client.execute(uri: "/", method: .get, headers: [.accept: Self.browserAccept]) { response in
                #expect(response.status == .found)
                #expect(response.headers[.location] == "/chat")
            }
        }
    }

    @Test func pageFilesCarryTheirTypesAndAPolicyWithoutInlineScript() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            for (path, type) in [("/chat", "text/html"), ("/chat/app.css", "text/css"), ("/chat/app.js", "text/javascript"),
                                 ("/chat/markdown.js", "text/javascript"), ("/chat/store.js", "text/javascript"),
                                 ("/chat/catalog.json", "application/json")] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                    let policy = response.headers[.contentSecurityPolicy] ?? ""
                    #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe"), "\(path): \(policy)")
                    #expect(response.headers[.xContentTypeOptions] == "nosniff")
                }
            }
            try await client.execute(uri: "/chat/catalog.json", method: .get) { response in
                #expect(parse(response).array?.compactMap { $0["name"]?.string }.contains("smollm2:135m") == true)
            }
            try await client.execute(uri: "/chat/nothing.js", method: .get) { #expect($0.status == .notFound) }
        }
    }

    /// The page's files need no key (the page asks for it); the API and a non-browser `/` still do.
    @Test func thePageLoadsWithoutTheKeyAndNothingElseDoes() async throws {
        let app = try makeApplication { $0.apiKey = "s3cret-key" }
        try await app.test(.router) { client in
            for path in ["/chat", "/chat/app.js", "/chat/catalog.json"] {
                try await client.execute(uri: path, method: .get) { #expect($0.status == .ok, "\(path)") }
            }
            try await client.execute(uri: "/", method: .get, headers: [.accept: Self.browserAccept]) { #expect($0.status == .found) }
            try await client.execute(uri: "/", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/chat", method: .post) { #expect($0.status == .unauthorized) }
            for path in ["/api/tags", "/api/usage", "/v1/models", "/metrics"] {
                try await client.execute(uri: path, method: .get) { #expect($0.status == .unauthorized, "\(path)") }
            }
        }
    }

    /// The page opened at a LAN address calls back to that address: same origin, allowed; a
    /// foreign name (DNS rebinding) or another port is not.
    @Test func thePageMayCallBackToTheAddressItCameFrom() {
        let middleware = SecurityMiddleware<HearthRequestContext>(configuration: ServerConfiguration())
        #expect(middleware.isSameOrigin("http://192.168.1.20:11435", authority: "192.168.1.20:11435"))
        #expect(middleware.isSameOrigin("https://mac.local", authority: "mac.local"))
        #expect(!middleware.isSameOrigin("http://evil.example:11435", authority: "evil.example:11435"))
        #expect(!middleware.isSameOrigin("http://192.168.1.20:8080", authority: "192.168.1.20:11435"))
        #expect(!middleware.isSameOrigin("http://192.168.1.20:11435", authority: nil))
    }

    @Test func whatPrefersHTML() {
        #expect(ChatPage.prefersHTML(Self.browserAccept))
        #expect(ChatPage.prefersHTML("text/html"))
        #expect(ChatPage.prefersHTML("TEXT/HTML; q=1, */*"))
        for accept in [nil, "", "*/*", "text/plain", "text/html;q=0", "text/html;q=0.5, */*", "application/json, text/html;q=0.9"] {
            #expect(!ChatPage.prefersHTML(accept), "\(accept ?? "nil")")
        }
    }
}
