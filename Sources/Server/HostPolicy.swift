import Foundation

/// Which `Host` headers and browser origins a server answers, following Ollama's defaults so
/// apps that work with Ollama work here: a loopback server refuses foreign host names (a DNS
/// rebinding page names the attacker's domain) but accepts every name that can only mean this
/// machine; browsers are allowed from local pages and desktop-app shells.
struct HostPolicy: Sendable {
    /// Extra host names (`--allowed-host`); `*.example.com` matches its subdomains.
    let extraHosts: [String]
    /// Origin patterns: Ollama's defaults plus `--allowed-origin`; `*` matches any run.
    let originPatterns: [String]
    /// This machine's name, which local tools use as a host.
    let machineName: String

    static let defaultOriginPatterns: [String] = {
        var patterns: [String] = []
        for host in ["localhost", "127.0.0.1", "0.0.0.0", "[::1]"] {
            for scheme in ["http", "https"] { patterns += ["\(scheme)://\(host)", "\(scheme)://\(host):*"] }
        }
        return patterns + ["app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*"]
    }()

    init(extraHosts: [String], extraOrigins: [String]) {
        self.extraHosts = extraHosts.map { $0.lowercased() }
        self.originPatterns = Self.defaultOriginPatterns + extraOrigins
        self.machineName = ProcessInfo.processInfo.hostName.lowercased()
    }

    /// Whether a loopback server answers a request whose `Host` is `authority`.
    func allowsHost(_ authority: String) -> Bool {
        // An empty Host is what a request for no particular host sends (RFC 9112 § 3.2).
        if authority.isEmpty { return true }
        guard let host = Self.hostName(authority) else { return false }
        if host == "localhost" || host == machineName { return true }
        if [".localhost", ".local", ".internal"].contains(where: { host.hasSuffix($0) }) { return true }
        if let address = IPAddress(host), address.isLocal { return true }
        return extraHosts.contains { pattern in
            pattern.hasPrefix("*.") ? host.hasSuffix(pattern.dropFirst()) : host == pattern
        }
    }

    func allowsOrigin(_ origin: String) -> Bool {
        originPatterns.contains { Self.matches(origin, pattern: $0) }
    }

    /// The host of an authority, `host[:port]` or `[IPv6]:port`, lower-cased; nil when the text
    /// is not an authority (`[::1]evil.example`, `a:b:c`, a port that is not a number, …). Only
    /// letters, digits, `-`, `.` and `_` make a host name; a bracketed address must be IPv6.
    static func hostName(_ authority: String) -> String? {
        let lowered = authority.lowercased()
        let host: Substring
        let rest: Substring
        if lowered.hasPrefix("[") {
            guard let end = lowered.firstIndex(of: "]") else { return nil }
            host = lowered[lowered.index(after: lowered.startIndex)..<end]
            rest = lowered[lowered.index(after: end)...]
            guard IPAddress(String(host))?.bytes.count == 16 else { return nil }
        } else {
            let colon = lowered.firstIndex(of: ":") ?? lowered.endIndex
            host = lowered[..<colon]
            rest = lowered[colon...]
            let allowed = host.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
            }
            guard !host.isEmpty, allowed else { return nil }
        }
        if !rest.isEmpty {
            // ":port" with a port of at most 5 digits; RFC 3986 allows an empty one.
            let port = rest.dropFirst()
            guard rest.first == ":", port.count <= 5, port.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                  Int(port).map({ $0 <= 65535 }) ?? true else { return nil }
        }
        return String(host)
    }

    /// Glob match where `*` stands for any run of characters (case-insensitive); a final `:*`
    /// stands for a port, digits only, so `http://localhost:*` never matches a longer host.
    static func matches(_ text: String, pattern: String) -> Bool {
        let text = text.lowercased()
        let pattern = pattern.lowercased()
        if pattern.hasSuffix(":*") {
            let stem = pattern.dropLast()
            guard text.hasPrefix(stem) else { return false }
            let port = text.dropFirst(stem.count)
            return !port.isEmpty && port.count <= 5 && port.allSatisfy(\.isASCII) && port.allSatisfy(\.isNumber)
        }
        return globMatches(Array(text.utf8), Array(pattern.utf8))
    }

    private static func globMatches(_ text: [UInt8], _ pattern: [UInt8]) -> Bool {
        var t = 0, p = 0
        var starP = -1, starT = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                starP = p; starT = t; p += 1
            } else if p < pattern.count, pattern[p] == text[t] {
                p += 1; t += 1
            } else if starP >= 0 {
                p = starP + 1; starT += 1; t = starT
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}

/// An IPv4 or IPv6 address, enough to tell whether it is this machine or its private network.
struct IPAddress {
    let bytes: [UInt8]

    init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: v6) { Array($0) }
        } else {
            return nil
        }
    }

    /// Loopback, unspecified, private (RFC 1918, unique-local) or link-local: names no web page
    /// on the internet can make a browser send.
    var isLocal: Bool {
        if bytes.count == 4 {
            let (a, b) = (bytes[0], bytes[1])
            return a == 127 || a == 10 || a == 0 || (a == 172 && (16...31).contains(b)) || (a == 192 && b == 168)
                || (a == 169 && b == 254)
        }
        if bytes.allSatisfy({ $0 == 0 }) { return true }                              // ::
        if bytes.dropLast().allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }  // ::1
        if bytes[0] & 0xFE == 0xFC { return true }                                    // fc00::/7
        if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 { return true }                 // fe80::/10
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return IPAddress(v4: Array(bytes[12...])).isLocal                          // ::ffff:a.b.c.d
        }
        return false
    }

    private init(v4: [UInt8]) { bytes = v4 }
}
