import CYAML

/// Rule files are small; anything larger is a mistake, not a rule set.
let maximumRuleFileBytes = 1 << 20

/// Parses one YAML document with libyaml's event API. Rejects, with a located
/// error: syntax errors, files over 1 MiB, invalid UTF-8, control characters,
/// anchors, aliases and tags, duplicate keys, non-scalar keys, nesting deeper
/// than 64, more than one document, and an empty document.
public func parseYAML(_ bytes: [UInt8], file: String) throws(RuleFileError) -> YAMLNode {
    let start = SourceMark(line: 1, column: 1)
    guard bytes.count <= maximumRuleFileBytes else {
        throw RuleFileError(file: file, at: start, "the file is larger than 1 MiB (\(bytes.count) bytes)")
    }
    if let offset = firstInvalidUTF8Offset(in: bytes) {
        let byte = String(bytes[offset], radix: 16, uppercase: true)
        throw RuleFileError(file: file, at: SourceText(bytes).mark(atByteOffset: offset),
                            "the file is not valid UTF-8 (byte 0x\(byte))")
    }
    let reader = YAMLEventReader(bytes: bytes, file: file)
    return try reader.read()
}

/// Owns a libyaml parser over a private copy of the input. The parser lives
/// on the heap because libyaml keeps a pointer to it (its read handler data).
private struct YAMLEventReader: ~Copyable {
    let file: String
    let source: SourceText
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>

    init(bytes: [UInt8], file: String) {
        self.file = file
        source = SourceText(bytes)
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        parser = .allocate(capacity: 1)
        parser.initialize(to: yaml_parser_t())
        // The input is valid UTF-8 already; libyaml detects that itself and,
        // unlike with an explicit encoding, does not count a leading BOM as a column.
        yaml_parser_initialize(parser)
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    func read() throws(RuleFileError) -> YAMLNode {
        var builder = YAMLTreeBuilder(file: file)
        var documents = 0
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(parser, &event) != 0 else { throw syntaxError() }
            defer { yaml_event_delete(&event) }
            let mark = SourceMark(line: event.start_mark.line + 1, column: event.start_mark.column + 1)
            switch event.type {
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    throw RuleFileError(file: file, at: mark, "only one YAML document per file is supported")
                }
            case YAML_ALIAS_EVENT:
                throw RuleFileError(file: file, at: mark, "aliases (*name) are not supported")
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                try rejectAnchor(scalar.anchor, tag: scalar.tag, at: mark)
                let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                try builder.add(.scalar(text: text, style: Self.style(scalar.style), mark: mark))
            case YAML_SEQUENCE_START_EVENT:
                try rejectAnchor(event.data.sequence_start.anchor, tag: event.data.sequence_start.tag, at: mark)
                try builder.startSequence(at: mark)
            case YAML_MAPPING_START_EVENT:
                try rejectAnchor(event.data.mapping_start.anchor, tag: event.data.mapping_start.tag, at: mark)
                try builder.startMapping(at: mark)
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                try builder.end()
            case YAML_STREAM_END_EVENT:
                return try document(builder.root)
            default:
                break
            }
        }
    }

    /// A stream without a document, or whose document is an empty plain
    /// scalar (only `---` or comments), is empty.
    private func document(_ root: YAMLNode?) throws(RuleFileError) -> YAMLNode {
        switch root {
        case nil:
            throw RuleFileError(file: file, at: SourceMark(line: 1, column: 1), "the file holds no YAML document")
        case .scalar("", .plain, let mark):
            throw RuleFileError(file: file, at: mark, "the YAML document is empty")
        case let node?:
            return node
        }
    }

    private func rejectAnchor(_ anchor: UnsafeMutablePointer<UInt8>?, tag: UnsafeMutablePointer<UInt8>?,
                              at mark: SourceMark) throws(RuleFileError) {
        if let anchor {
            throw RuleFileError(file: file, at: mark, "anchors (&\(String(cString: anchor))) are not supported")
        }
        if let tag {
            throw RuleFileError(file: file, at: mark, "tags (\(String(cString: tag))) are not supported")
        }
    }

    /// libyaml's error, located at its problem mark; a reader error (a
    /// control character) only has a byte offset.
    private func syntaxError() -> RuleFileError {
        let problem = parser.pointee.problem.map { String(cString: $0) } ?? "invalid YAML"
        if parser.pointee.error == YAML_READER_ERROR {
            let byte = String(parser.pointee.problem_value, radix: 16, uppercase: true)
            return RuleFileError(file: file, at: source.mark(atByteOffset: parser.pointee.problem_offset),
                                 "\(problem) (character 0x\(byte))")
        }
        let mark = SourceMark(line: parser.pointee.problem_mark.line + 1, column: parser.pointee.problem_mark.column + 1)
        var message = problem
        if let context = parser.pointee.context {
            let contextMark = SourceMark(line: parser.pointee.context_mark.line + 1, column: parser.pointee.context_mark.column + 1)
            message += " (\(String(cString: context)) at \(contextMark))"
        }
        if source.character(at: mark) == "\t" {
            message += "; YAML does not allow tabs for indentation, use spaces"
        }
        return RuleFileError(file: file, at: mark, message)
    }

    private static func style(_ style: yaml_scalar_style_t) -> ScalarStyle {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: .literal
        case YAML_FOLDED_SCALAR_STYLE: .folded
        default: .plain
        }
    }
}
