/// An expression after checking: names resolved, every node typed. The
/// compiler turns it into closures without further checks.
indirect enum TypedExpression {
    /// A literal; durations are numbers of seconds.
    case constant(Value, FieldType)
    case field(String, FieldType)
    case aggregate(AggregateCall)
    case negate(TypedExpression)
    case not(TypedExpression)
    case arithmetic(BinaryOperator, TypedExpression, TypedExpression, FieldType)
    /// Both sides have the same type.
    case comparison(BinaryOperator, TypedExpression, TypedExpression)
    /// `and` or `or`.
    case logical(BinaryOperator, TypedExpression, TypedExpression)
    case membership(TypedExpression, [Value], negated: Bool)

    var type: FieldType {
        switch self {
        case .constant(_, let type), .field(_, let type), .arithmetic(_, _, _, let type): type
        case .aggregate(let call): call.type
        case .negate(let operand): operand.type
        case .not, .comparison, .logical, .membership: .boolean
        }
    }
}

struct AggregateCall {
    let function: AggregateFunction
    let windowSeconds: Double
    let input: Input
    let type: FieldType
    /// Canonical text; equal texts share one window state.
    let description: String

    enum Input {
        case everyEvent
        case field(String)
        /// A boolean expression over event fields.
        case predicate(TypedExpression, description: String)
    }
}
