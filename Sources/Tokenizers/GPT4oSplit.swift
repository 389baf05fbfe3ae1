/// The GPT-4o / o200k pre-tokenizer (gpt-oss, Llama 4): its `tokenizer.json` regex is
/// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|…)?|
/// [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|…)?|
/// \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`, which llama.cpp runs through
/// `std::regex` rewritten with "upper" = a letter that is not a–z and "lower" = a letter that is not
/// A–Z, on text whose non-ASCII code points are collapsed to one stand-in per category (every
/// non-ASCII letter is then both upper and lower; marks are not letters; non-ASCII whitespace is
/// `\s`). This walks the same alternatives in the same order with `std::regex`'s backtracking, so
/// the pieces are llama.cpp's.
func splitGPT4o(_ piece: PieceCursor, into collector: inout PieceCollector) {
    let lineFeed: UInt32 = 0x0A, carriageReturn: UInt32 = 0x0D, space: UInt32 = 0x20, slash: UInt32 = 0x2F
    func codepoint(_ position: Int) -> UInt32 { piece.codepoint(position) }
    func isInside(_ position: Int) -> Bool { position >= piece.start && position < piece.end }
    func isWhitespace(_ position: Int) -> Bool {
        guard isInside(position) else { return false }
        let value = codepoint(position)
        return value < 0x80 ? (value == space || (0x09...0x0D).contains(value)) : piece.flags(position).isWhitespace
    }
    func isLetter(_ position: Int) -> Bool {
        guard isInside(position) else { return false }
        let value = codepoint(position)
        if value < 0x80 { return (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value) }
        return !piece.flags(position).isWhitespace && piece.flags(position).isLetter
    }
    func isNumber(_ position: Int) -> Bool {
        guard isInside(position) else { return false }
        let value = codepoint(position)
        if value < 0x80 { return (0x30...0x39).contains(value) }
        return !piece.flags(position).isWhitespace && piece.flags(position).isNumber
    }
    func isUpper(_ position: Int) -> Bool { isLetter(position) && !(0x61...0x7A).contains(codepoint(position)) }
    func isLower(_ position: Int) -> Bool { isLetter(position) && !(0x41...0x5A).contains(codepoint(position)) }
    /// `[^\r\n\p{L}\p{N}]`
    func isPrefix(_ position: Int) -> Bool {
        isInside(position) && codepoint(position) != carriageReturn && codepoint(position) != lineFeed
            && !isLetter(position) && !isNumber(position)
    }
    /// `[^\s\p{L}\p{N}]`
    func isOther(_ position: Int) -> Bool {
        isInside(position) && !isWhitespace(position) && !isLetter(position) && !isNumber(position)
    }
    func withContraction(_ end: Int) -> Int { end + contractionLength(piece, at: end, caseInsensitive: true) }

    /// `upper* lower+ contraction?` from `start`: `upper*` takes the longest run, then gives back
    /// one code point at a time until `lower+` can start.
    func upperThenLower(_ start: Int) -> Int? {
        var runEnd = start
        while isUpper(runEnd) { runEnd += 1 }
        var lowerStart = runEnd
        while lowerStart >= start && !isLower(lowerStart) { lowerStart -= 1 }
        guard lowerStart >= start else { return nil }
        var end = lowerStart
        while isLower(end) { end += 1 }
        return withContraction(end)
    }
    /// `upper+ lower* contraction?` from `start`.
    func upperRun(_ start: Int) -> Int? {
        var end = start
        while isUpper(end) { end += 1 }
        guard end > start else { return nil }
        while isLower(end) { end += 1 }
        return withContraction(end)
    }
    /// An alternative with the optional `[^\r\n\p{L}\p{N}]?` in front: with it first, then without.
    func prefixed(_ position: Int, _ rest: (Int) -> Int?) -> Int? {
        if isPrefix(position), let end = rest(position + 1) { return end }
        return rest(position)
    }

    var position = piece.start
    while position < piece.end {
        if let end = prefixed(position, upperThenLower) ?? prefixed(position, upperRun) {
            position = end
            collector.cut(at: position)
            continue
        }
        // `\p{N}{1,3}`
        if isNumber(position) {
            var end = position
            while end < position + 3 && isNumber(end) { end += 1 }
            position = end
            collector.cut(at: position)
            continue
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
        let othersStart = codepoint(position) == space && isOther(position + 1) ? position + 1 : position
        if isOther(othersStart) {
            var end = othersStart
            while isOther(end) { end += 1 }
            while isInside(end) && [carriageReturn, lineFeed, slash].contains(codepoint(end)) { end += 1 }
            position = end
            collector.cut(at: position)
            continue
        }
        var whitespaceEnd = position
        var endOfLastLineBreak: Int?
        while isWhitespace(whitespaceEnd) {
            if codepoint(whitespaceEnd) == carriageReturn || codepoint(whitespaceEnd) == lineFeed {
                endOfLastLineBreak = whitespaceEnd + 1
            }
            whitespaceEnd += 1
        }
        // `\s*[\r\n]+`: the whitespace up to the end of its last line break.
        if let end = endOfLastLineBreak {
            position = end
        } else if whitespaceEnd - position > 1 && isInside(whitespaceEnd) {
            // `\s+(?!\S)`: a run followed by text leaves its last space to the next piece.
            position = whitespaceEnd - 1
        } else if whitespaceEnd > position {
            // `\s+`
            position = whitespaceEnd
        } else {
            position += 1
        }
        collector.cut(at: position)
    }
}
