/// The bytes of a rule file with an index of where its lines start: turns
/// byte offsets into positions, and walks the characters from a position.
/// Line breaks are the ones libyaml counts: LF, CR, CRLF, NEL, LS and PS.
struct SourceText {
    let bytes: [UInt8]
    /// Byte offset of each line; the first line starts after a byte-order mark.
    let lineStarts: [Int]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var starts = [bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0]
        var offset = starts[0]
        while offset < bytes.count {
            let length = SourceText.breakLength(in: bytes, at: offset)
            if length > 0 {
                offset += length
                starts.append(offset)
            } else {
                offset += 1
            }
        }
        lineStarts = starts
    }

    /// The number of bytes of the line break at `offset`, or 0.
    static func breakLength(in bytes: [UInt8], at offset: Int) -> Int {
        func byte(_ i: Int) -> UInt8? { offset + i < bytes.count ? bytes[offset + i] : nil }
        switch bytes[offset] {
        case 0x0A: return 1
        case 0x0D: return byte(1) == 0x0A ? 2 : 1
        case 0xC2 where byte(1) == 0x85: return 2
        case 0xE2 where byte(1) == 0x80 && (byte(2) == 0xA8 || byte(2) == 0xA9): return 3
        default: return 0
        }
    }

    /// The position of the character starting at `offset` (also valid for
    /// offsets inside invalid UTF-8: every non-continuation byte counts as one).
    func mark(atByteOffset offset: Int) -> SourceMark {
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        let start = min(lineStarts[low], offset)
        let characters = bytes[start..<min(offset, bytes.count)].count { $0 & 0xC0 != 0x80 }
        return SourceMark(line: low + 1, column: characters + 1)
    }

    /// The character at `mark`, or nil past the end of its line.
    func character(at mark: SourceMark) -> Unicode.Scalar? {
        var characters = self.characters(from: mark)
        guard let (scalar, found) = characters.next(), found == mark else { return nil }
        return scalar
    }

    /// The characters from `mark` to the end of the file, every line break
    /// read as one "\n".
    func characters(from mark: SourceMark) -> SourceCharacters {
        var characters = SourceCharacters(bytes: bytes, offset: bytes.count, mark: mark)
        guard mark.line >= 1, mark.line <= lineStarts.count else { return characters }
        characters.offset = lineStarts[mark.line - 1]
        characters.mark = SourceMark(line: mark.line, column: 1)
        while characters.mark.column < mark.column, let (scalar, _) = characters.next(), scalar != "\n" {}
        return characters
    }
}

/// Decodes a file's characters (the file is valid UTF-8) with their positions.
struct SourceCharacters: IteratorProtocol {
    let bytes: [UInt8]
    var offset: Int
    var mark: SourceMark

    mutating func next() -> (Unicode.Scalar, SourceMark)? {
        guard offset < bytes.count else { return nil }
        let here = mark
        let breakLength = SourceText.breakLength(in: bytes, at: offset)
        if breakLength > 0 {
            offset += breakLength
            mark = SourceMark(line: mark.line + 1, column: 1)
            return ("\n", here)
        }
        let (scalar, length) = decode()
        offset += length
        mark = mark.advanced
        return (scalar, here)
    }

    private func decode() -> (Unicode.Scalar, Int) {
        let lead = bytes[offset]
        let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        var value = UInt32(lead) & (length == 1 ? 0x7F : UInt32(0xFF) >> (length + 1))
        for i in 1..<length where offset + i < bytes.count {
            value = value << 6 | UInt32(bytes[offset + i] & 0x3F)
        }
        return (Unicode.Scalar(value) ?? "\u{FFFD}", length)
    }
}
