import JSON
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import Server
import Store

/// The store `scripts/test` fills with `hearth pull` (HEARTH_TEST_HOME), or an empty one.
func testStore() throws -> ModelStore {
    if let home = ProcessInfo.processInfo.environment["HEARTH_TEST_HOME"] {
        return try ModelStore(root: URL(fileURLWithPath: home))
    }
    return try emptyStore()
}

func emptyStore() throws -> ModelStore {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("hearth-server-test-\(UUID().uuidString)")
    return try ModelStore(root: root)
}

/// A store holding smollm2:135m, or a recorded failure when the test store lacks it.
func storeWithSmolLM() throws -> ModelStore {
    let store = try testStore()
    guard try store.installedModel(named: "smollm2:135m") != nil else {
        Issue.record("smollm2:135m is not in the test store (HEARTH_TEST_HOME); run scripts/test, which pulls it")
        throw CancellationError()
    }
    return store
}

func makeApplication(_ configure: (inout ServerConfiguration) -> Void = { _ in }, store: ModelStore? = nil) throws
    -> some ApplicationProtocol
{
    var configuration = ServerConfiguration()
    configuration.port = 0
    configure(&configuration)
    let server = HearthServer(configuration: configuration, store: try store ?? emptyStore())
    return Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
}

func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

let jsonHeaders: HTTPFields = [.contentType: "application/json"]

/// The response body parsed as JSON (a failed parse records an issue).
func parse(_ response: TestResponse) -> JSONValue {
    do {
        return try JSONParser.parse(response.body.readableBytesView)
    } catch {
        Issue.record("response is not JSON: \(String(buffer: response.body))")
        return .null
    }
}

extension JSONValue {
    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var int: Int? { if case .int(let i) = self { return i } else { return nil } }
    var array: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
}

/// Sends `request` as raw bytes over TCP to 127.0.0.1:`port` and returns everything the server
/// answers until it closes: for headers the test clients would rewrite (Host).
func rawHTTP(port: Int, _ request: String) throws -> String {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw POSIXError(.EIO) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    let bytes = Array(request.utf8)
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        response.append(contentsOf: buffer[0..<count])
    }
    return String(decoding: response, as: UTF8.self)
}
