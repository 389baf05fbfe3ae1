import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import Server

@Suite struct SecurityTests {
    @Test func healthNeedsNoKeyButEverythingElseDoes() async throws {
        let app = try makeApplication { $0.apiKey = "s3cret-key" }
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/models", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
                #expect(parse(response)["error"]?["type"]?.string == "invalid_request_error")
                #expect(parse(response)["error"]?["code"]?.string == "invalid_api_key")
            }
            try await client.execute(uri: "/api/tags", method: .get, headers: [.authorization: "Bearer wrong-key!"]) { response in
                #expect(response.status == .unauthorized)
                #expect(parse(response)["error"]?.string != nil, "Ollama routes answer in Ollama's error shape")
            }
            for almost in ["Bearer s3cret-ke", "Bearer s3cret-keyy", "s3cret-key", "Basic s3cret-key", "Bearer  s3cret-key"] {
                try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: almost]) {
                    #expect($0.status == .unauthorized, "accepted '\(almost)'")
                }
            }
            try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer s3cret-key"]) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .unauthorized) }
        }
    }

    @Test func constantTimeCompareIsCorrect() {
        #expect(SecurityMiddleware<HearthRequestContext>.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!SecurityMiddleware<HearthRequestContext>.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!SecurityMiddleware<HearthRequestContext>.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!SecurityMiddleware<HearthRequestContext>.constantTimeEqual([], Array("a".utf8)))
    }

    @Test func localHostNamesAsOllamaAcceptsThem() {
        let policy = HostPolicy(extraHosts: ["models.example", "*.lan.example"], extraOrigins: [])
        for host in ["localhost", "localhost:11435", "127.0.0.1", "127.0.0.1:80", "127.1.2.3:9", "[::1]", "[::1]:11435", "LOCALHOST",
                     "app.localhost:3000", "host.docker.internal:11435", "mac.local", "10.0.0.1", "192.168.1.20:11435",
                     "172.20.0.1", "0.0.0.0:11435", "[fd00::1]:80", "[::ffff:127.0.0.1]", "", ProcessInfo.processInfo.hostName,
                     "models.example:8080", "box.lan.example"] {
            #expect(policy.allowsHost(host), "\(host)")
        }
        for host in ["evil.example", "evil.example:11435", "127.0.0.1.evil.example", "localhost.evil.example", "8.8.8.8",
                     "127.0.0.256", "[2001:db8::1]:80", "[::1", "internal.evil.example", "lan.example", "172.32.0.1",
                     "[::1]evil.example", "[::1].evil.example", "[::1]:80evil", "[127.0.0.1]", "::1", "localhost:99999",
                     "localhost:1:2", "local host", "localhost@evil.example", "evil.example#localhost", "localhost\u{0}"] {
            #expect(!policy.allowsHost(host), "\(host)")
        }
    }

    /// A Host that is not an authority is a 400 (even where any host is allowed), and so are two
    /// Host headers; the first Host header is the request's authority, a second stays a field.
    @Test func malformedAndDuplicateHostsAreBadRequests() async throws {
        for (host, valid) in [("[::1]evil.example", false), ("[::1].evil.example", false), ("a:b:c", false), ("localhost:http", false),
                              ("localhost:11435", true), ("[::1]:11435", true), ("box_1.lan:80", true)] {
            #expect((HostPolicy.hostName(host) != nil) == valid, "\(host)")
        }
        let app = try makeApplication()
        // The router test client gives every request the authority "localhost" (as the first
        // Host header becomes): one more Host field is a second Host header. A malformed Host
        // needs a real socket (Tests/clients/test_hardening.py).
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/tags", method: .get, headers: [HTTPField.Name("Host")!: "evil.example"]) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("more than one Host"))
            }
            try await client.execute(uri: "/api/tags", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func defaultOriginsAreOllamas() {
        let policy = HostPolicy(extraHosts: [], extraOrigins: ["https://chat.example", "https://*.tools.example"])
        for origin in ["http://localhost", "http://localhost:3000", "https://127.0.0.1:8443", "app://obsidian.md", "file://",
                       "tauri://localhost", "vscode-webview://abc123", "https://chat.example", "https://a.tools.example"] {
            #expect(policy.allowsOrigin(origin), "\(origin)")
        }
        for origin in ["https://evil.example", "http://localhost.evil.example", "http://127.0.0.1.evil.example:80", "null",
                       "http://localhost:3000.evil.example", "http://localhost:",
                       "https://chat.example.evil", "https://tools.example"] {
            #expect(!policy.allowsOrigin(origin), "\(origin)")
        }
    }

    /// DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends its own
    /// Host header; a loopback server must refuse it.
    @Test func foreignHostHeaderIsForbiddenOnLoopback() async throws {
        let app = try makeApplication()
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let evil = try rawHTTP(port: port, "GET /v1/models HTTP/1.1\r\nHost: evil.example:11435\r\nConnection: close\r\n\r\n")
            #expect(evil.hasPrefix("HTTP/1.1 403"), "\(evil.prefix(80))")
            let rebound = try rawHTTP(port: port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1.evil.example\r\nConnection: close\r\n\r\n")
            #expect(rebound.hasPrefix("HTTP/1.1 403"), "\(rebound.prefix(80))")
            let local = try rawHTTP(port: port, "GET /health HTTP/1.1\r\nHost: localhost:\(port)\r\nConnection: close\r\n\r\n")
            #expect(local.hasPrefix("HTTP/1.1 200"), "\(local.prefix(80))")
        }
    }

    @Test func corsOnlyForAllowedOrigins() async throws {
        let app = try makeApplication { $0.allowedOrigins = ["http://localhost:3000"] }
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/models", method: .get, headers: [.origin: "https://evil.example"]) { response in
                #expect(response.status == .forbidden)
                #expect(response.headers[.accessControlAllowOrigin] == nil, "never echo an arbitrary Origin")
            }
            try await client.execute(uri: "/v1/chat/completions", method: .options,
                                     headers: [.origin: "https://evil.example", .accessControlRequestMethod: "POST"]) { response in
                #expect(response.status == .forbidden)
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
            try await client.execute(uri: "/v1/chat/completions", method: .options,
                                     headers: [.origin: "http://localhost:3000", .accessControlRequestMethod: "POST"]) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.accessControlAllowOrigin] == "http://localhost:3000")
                #expect(response.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            }
            try await client.execute(uri: "/v1/models", method: .get, headers: [.origin: "http://localhost:3000"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.accessControlAllowOrigin] == "http://localhost:3000")
                #expect(response.headers[.vary] == "Origin")
            }
            // No Origin: not a browser; no CORS headers.
            try await client.execute(uri: "/v1/models", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
        }
    }

    @Test func bodyLargerThanEightMiBIs413() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            let large = "{\"model\":\"x\",\"prompt\":\"" + String(repeating: "a", count: 8 << 20) + "\"}"
            try await client.execute(uri: "/v1/completions", method: .post, headers: jsonHeaders, body: body(large)) { response in
                #expect(response.status == .contentTooLarge)
                #expect(parse(response)["error"]?["message"]?.string != nil)
            }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func deepJSONNestingIs400() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body(deep)) { response in
                #expect(response.status == .badRequest)
                #expect(parse(response)["error"]?["message"]?.string?.contains("nested deeper") == true)
            }
        }
    }

    @Test func unknownRouteIs404InTheRightShape() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/nothing", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(parse(response)["error"]?["message"]?.string != nil)
            }
            try await client.execute(uri: "/api/nothing", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(parse(response)["error"]?.string != nil)
            }
        }
    }

    @Test func metricsAreCountedByRouteAndStatus() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get)
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body("{"))
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("hearth_requests_total{route=\"/health\",status=\"200\"} 1"))
                #expect(text.contains("hearth_requests_total{route=\"/v1/chat/completions\",status=\"400\"} 1"))
                #expect(text.contains("# TYPE hearth_time_to_first_token_seconds histogram"))
                #expect(text.contains("hearth_queue_depth 0"))
            }
        }
    }
}
