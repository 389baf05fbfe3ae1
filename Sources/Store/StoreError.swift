import Foundation

/// An error from the model store, with a one-line message meant for people.
///
/// `code` lets callers (the CLI, the server) react to a kind of failure without parsing text:
/// ```swift
/// do { _ = try store.resolve("foo") }
/// catch let error as StoreError where error.code == .unknownModel { print(error) }
/// ```
public struct StoreError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Equatable {
        case invalidName
        case invalidSource
        case invalidChecksum
        case unknownModel
        case notInstalled
        case alreadyExists
        case fileNotFound
        case notGGUF
        case checksumMismatch
        case sizeMismatch
        case insufficientDiskSpace
        case pullInProgress
        case pipFailed
        case badWheel
        case httpStatus
        case httpProtocol
        case networkFailure
        case io
        case invalidModelfile
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
    public var errorDescription: String? { message }
}

extension StoreError {
    /// An I/O failure from a POSIX call, naming the operation and the path.
    static func posix(_ operation: String, _ path: String, errno code: Int32 = errno) -> StoreError {
        StoreError(.io, "\(operation) '\(path)' failed: \(String(cString: strerror(code)))")
    }
}
