import Foundation

/// Model names are used as file names inside the store (`models/NAME.gguf`), so they are checked
/// before any path is built from them: a name can never reach outside the store's directories.
///
/// A valid name is one or two parts separated by a single `:` (`smollm2:135m`, `my-model`);
/// each part starts with a letter or digit and continues with letters, digits, `.`, `_` or `-`.
/// `..` is refused anywhere, and names are at most ``maximumLength`` characters.
public enum ModelName {
    public static let maximumLength = 100

    /// Throws ``StoreError`` (`.invalidName`) explaining why `name` is not acceptable.
    public static func validate(_ name: String) throws {
        func refuse(_ why: String) -> StoreError {
            StoreError(.invalidName, "invalid model name '\(printable(name))': \(why)")
        }
        guard !name.isEmpty else { throw StoreError(.invalidName, "invalid model name: the name is empty") }
        guard name.utf8.count <= maximumLength else {
            throw refuse("longer than \(maximumLength) characters")
        }
        guard !name.contains("..") else { throw refuse("'..' is not allowed") }
        let parts = name.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw refuse("at most one ':' is allowed") }
        for part in parts {
            guard let first = part.utf8.first, isAlphanumeric(first) else {
                throw refuse("each part must start with a letter or digit")
            }
            for byte in part.utf8 where !(isAlphanumeric(byte) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")) {
                throw refuse("only letters, digits, '.', '_', '-' and one ':' are allowed")
            }
        }
    }

    /// The name a model file installs or is served under by default: its file name without
    /// `.gguf` (any case), or nil when that is not a valid name.
    public static func derived(fromFileName fileName: String) -> String? {
        var name = fileName
        if name.lowercased().hasSuffix(".gguf") { name = String(name.dropLast(5)) }
        return isValid(name) ? name : nil
    }

    /// True when ``validate(_:)`` would accept `name`.
    public static func isValid(_ name: String) -> Bool {
        (try? validate(name)) != nil
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    /// The name shortened and with control characters escaped, safe to print in an error message.
    static func printable(_ text: String) -> String {
        let shortened = text.count > 60 ? String(text.prefix(57)) + "..." : text
        return shortened.unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }.joined()
    }
}

/// Checks a user-given sha256: 64 hex digits, returned in lower case.
enum SHA256Text {
    static func normalize(_ text: String) throws -> String {
        let lower = text.lowercased()
        guard lower.utf8.count == 64, lower.utf8.allSatisfy({ isHexDigit($0) }) else {
            throw StoreError(.invalidChecksum,
                             "invalid sha256 '\(ModelName.printable(text))': expected 64 hexadecimal digits")
        }
        return lower
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }
}

/// Human-readable byte counts in decimal units, like `98.4 MB` or `1.12 GB`.
public enum ByteCount {
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while abs(value) >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let digits = value >= 100 ? 0 : (value >= 10 ? 1 : 2)
        return String(format: "%.\(digits)f", value) + " " + units[unit]
    }
}
