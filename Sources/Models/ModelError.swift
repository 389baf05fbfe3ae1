/// Why a model cannot be loaded or run. Each case names the key, tensor or value at fault.
public enum ModelError: Error, CustomStringConvertible, Equatable, Sendable {
    case unsupportedArchitecture(String, supported: [String])
    case missingKey(String)
    case invalidKey(String, String)
    case unsupported(String, String)
    case missingTensor(String)
    case tensorShape(String, expected: [Int], found: [Int])
    case tensorType(String, String)
    case invalidToken(Int32, vocabularySize: Int)
    case contextFull(needed: Int, capacity: Int)
    /// A LoRA adapter that cannot be applied: the file, then why.
    case invalidAdapter(String, String)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let name, let supported):
            return "unsupported architecture '\(name)' (supported: \(supported.joined(separator: ", ")))"
        case .missingKey(let key):
            return "metadata key '\(key)' is missing"
        case .invalidKey(let key, let reason):
            return "metadata key '\(key)': \(reason)"
        case .unsupported(let what, let detail):
            return "\(what): unsupported value \(detail)"
        case .missingTensor(let name):
            return "tensor '\(name)' is missing"
        case .tensorShape(let name, let expected, let found):
            return "tensor '\(name)' has shape \(found), expected \(expected)"
        case .tensorType(let name, let type):
            return "tensor '\(name)' has type \(type), which Hearth cannot compute with"
        case .invalidToken(let token, let size):
            return "token id \(token) is outside the vocabulary (0..<\(size))"
        case .contextFull(let needed, let capacity):
            return "context is full: \(needed) tokens needed, \(capacity) available"
        case .invalidAdapter(let path, let reason):
            return "LoRA adapter '\(path)': \(reason)"
        }
    }
}
