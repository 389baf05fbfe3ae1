import GGUF
import Tokenizers

/// Builds just the tokenizer of a GGUF file, without binding the weights.
public enum TokenizerLoader {
    public static func load(path: String) throws -> Tokenizer {
        try Tokenizer(vocabulary: Vocabulary(file: GGUFFile(path: path)))
    }
}
