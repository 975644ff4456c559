/// An expression as written, before names are resolved and types checked.
/// Every node keeps the position of the token that best explains an error
/// about it: the operator of a binary expression, the name of a call.
indirect enum Expression {
    case number(Double, SourceMark)
    /// In seconds.
    case duration(Double, SourceMark)
    case string(String, SourceMark)
    case boolean(Bool, SourceMark)
    /// A field or a macro; which one is decided when macros are expanded.
    case name(String, SourceMark)
    case call(String, [Expression], SourceMark)
    case negate(Expression, SourceMark)
    case not(Expression, SourceMark)
    case binary(BinaryOperator, Expression, Expression, SourceMark)
    /// `value in (a, b)`, `value in listname`, `value not in …`.
    case membership(Expression, MembershipSet, negated: Bool, SourceMark)
    /// A macro reference replaced by the macro's expanded body.
    case macro(String, Expression, SourceMark)

    var mark: SourceMark {
        switch self {
        case .number(_, let mark), .duration(_, let mark), .string(_, let mark), .boolean(_, let mark),
             .name(_, let mark), .call(_, _, let mark), .negate(_, let mark), .not(_, let mark),
             .binary(_, _, _, let mark), .membership(_, _, _, let mark), .macro(_, _, let mark):
            mark
        }
    }
}

enum MembershipSet {
    case items([Expression])
    case list(String, SourceMark)
}

enum BinaryOperator: String {
    case add = "+", subtract = "-", multiply = "*", divide = "/"
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case and, or

    var isOrdering: Bool { [.less, .lessEqual, .greater, .greaterEqual].contains(self) }
}

/// The canonical text: compound expressions fully parenthesised, macros
/// shown expanded. Equal texts mean equal meaning, so it also identifies
/// aggregates that can share one window.
extension Expression: CustomStringConvertible {
    var description: String {
        switch self {
        case .number(let value, _): canonicalNumber(value)
        case .duration(let seconds, _): canonicalDuration(seconds)
        case .string(let text, _): quoted(text)
        case .boolean(let value, _): value ? "true" : "false"
        case .name(let name, _): name
        case .call(let name, let arguments, _): "\(name)(\(arguments.map(\.description).joined(separator: ", ")))"
        case .negate(let operand, _): "(-\(operand))"
        case .not(let operand, _): "(not \(operand))"
        case .binary(let op, let left, let right, _): "(\(left) \(op.rawValue) \(right))"
        case .membership(let value, let set, let negated, _):
            "(\(value) \(negated ? "not in" : "in") \(set))"
        case .macro(_, let body, _): body.description
        }
    }
}

extension MembershipSet: CustomStringConvertible {
    var description: String {
        switch self {
        case .items(let items): "(\(items.map(\.description).joined(separator: ", ")))"
        case .list(let name, _): name
        }
    }
}

/// A string literal that the lexer reads back as `text`.
func quoted(_ text: String) -> String {
    var result = "\""
    for character in text.unicodeScalars {
        switch character {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        default: result.unicodeScalars.append(character)
        }
    }
    return result + "\""
}
