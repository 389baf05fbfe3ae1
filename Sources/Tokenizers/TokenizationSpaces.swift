extension Tokenizer {
    /// llama.cpp's `clean_spaces` post-processing of detokenized text (Hugging Face's
    /// `clean_up_tokenization_spaces`), reproduced step for step — three in-place compaction passes
    /// over the bytes — so that its quirks (it looks at bytes it has already rewritten) match too.
    static func cleanUpTokenizationSpaces(_ text: inout [UInt8]) {
        let space: UInt8 = 0x20, apostrophe: UInt8 = 0x27

        // Pass 1: " ?", " !", " .", " ," lose the space.
        var total = text.count
        var limit = total
        total = total > 0 ? 1 : 0
        var index = 1
        while index < limit {
            let byte = text[index]
            if text[index - 1] == space && (byte == 0x3F || byte == 0x21 || byte == 0x2E || byte == 0x2C) {
                total -= 1
            }
            text[total] = byte
            total += 1
            index += 1
        }

        // Pass 2: a lone apostrophe between spaces, " ' ", loses both spaces.
        limit = total
        total = total > 0 ? 1 : 0
        index = 1
        while index < limit {
            let byte = text[index]
            if byte == apostrophe && index + 1 < limit && text[index - 1] == space && text[index + 1] == space {
                total -= 1
                index += 1
                text[index] = 0
            }
            text[total] = byte
            total += 1
            index += 1
        }

        // Pass 3: " 's", " 'm", " 're", " 've" lose the space (" 't", " 'd", " 'll" keep it).
        limit = total
        total = total > 0 ? 1 : 0
        index = 1
        while index < limit {
            let byte = text[index]
            if text[index - 1] == space && byte == apostrophe && index + 1 < limit {
                let next = text[index + 1]
                if next == 0x74 || next == 0x64 {  // t d
                } else if next == 0x73 || next == 0x6D {  // s m
                    total -= 1
                } else if index + 2 < limit {
                    let nextNext = text[index + 2]
                    if (next == 0x72 && nextNext == 0x65) || (next == 0x76 && nextNext == 0x65) {  // re ve
                        total -= 1
                    }
                }
            }
            text[total] = byte
            total += 1
            index += 1
        }
        text.removeSubrange(total...)
    }
}
