/// Turns checked expressions into closures. One compiler serves a whole rule
/// (its condition and its message), so fields and aggregates get a single
/// numbering that the engine reads from the compiled rule.
struct ExpressionCompiler {
    private(set) var fieldNames: [String] = []
    private var fieldIDs: [String: FieldID] = [:]
    private(set) var aggregates: [AggregateSpec] = []
    private var aggregateIndexes: [String: Int] = [:]

    typealias Evaluator = @Sendable (any EvaluationContext) -> Value

    mutating func compile(_ expression: TypedExpression, description: String) -> CompiledExpression {
        CompiledExpression(type: expression.type, description: description, evaluator: evaluator(expression))
    }

    private mutating func evaluator(_ expression: TypedExpression) -> Evaluator {
        switch expression {
        case .constant(let value, _):
            return { _ in value }
        case .field(let name, let type):
            let id = fieldID(name)
            return { context in context.value(of: id).ifKind(of: type) }
        case .aggregate(let call):
            let index = aggregateIndex(call)
            return { context in
                let value = context.aggregate(index)
                return value.isFinite ? .number(value) : .missing
            }
        case .negate(let operand):
            let operand = evaluator(operand)
            return { context in
                guard case .number(let value) = operand(context) else { return .missing }
                return .number(-value)
            }
        case .not(let operand):
            let operand = evaluator(operand)
            return { context in .boolean(!operand(context).isTrue) }
        case .arithmetic(let op, let left, let right, _):
            return arithmetic(Self.arithmeticOperation(op), evaluator(left), evaluator(right))
        case .comparison(let op, let left, let right) where op != .equal && op != .notEqual:
            // Orderings compare in one closure: they are most conditions,
            // checked for every subject at every tick.
            if case .field(let name, let type) = left, case .constant(.number(let bound), _) = right {
                let id = fieldID(name)
                return { context in
                    guard case .number(let value) = context.value(of: id).ifKind(of: type) else { return .boolean(false) }
                    return .boolean(Self.order(op, value, bound))
                }
            }
            let (left, right) = (evaluator(left), evaluator(right))
            return { context in
                guard case .number(let a) = left(context), case .number(let b) = right(context) else { return .boolean(false) }
                return .boolean(Self.order(op, a, b))
            }
        case .comparison(let op, let left, let right):
            let (left, right) = (evaluator(left), evaluator(right))
            // False when a side is missing.
            if op == .equal {
                return { context in
                    let (a, b) = (left(context), right(context))
                    return .boolean(a != .missing && a == b)
                }
            }
            return { context in
                let (a, b) = (left(context), right(context))
                return .boolean(a != .missing && b != .missing && a != b)
            }
        case .logical(let op, let left, let right):
            let (left, right) = (evaluator(left), evaluator(right))
            if op == .and {
                return { context in .boolean(left(context).isTrue && right(context).isTrue) }
            }
            return { context in .boolean(left(context).isTrue || right(context).isTrue) }
        case .membership(let value, let members, let negated):
            let (value, members) = (evaluator(value), Set(members))
            return { context in
                let found = value(context)
                return .boolean(found != .missing && members.contains(found) != negated)
            }
        }
    }

    /// A non-finite result (division by zero, overflow) is missing.
    private func arithmetic(_ operation: @escaping @Sendable (Double, Double) -> Double,
                            _ left: @escaping Evaluator, _ right: @escaping Evaluator) -> Evaluator {
        { context in
            guard case .number(let a) = left(context), case .number(let b) = right(context) else { return .missing }
            let result = operation(a, b)
            return result.isFinite ? .number(result) : .missing
        }
    }

    private static func arithmeticOperation(_ op: BinaryOperator) -> @Sendable (Double, Double) -> Double {
        switch op {
        case .add: { $0 + $1 }
        case .subtract: { $0 - $1 }
        case .multiply: { $0 * $1 }
        default: { $0 / $1 }
        }
    }

    /// Ordering applies to numbers only (the checker allows nothing else);
    /// a missing side makes a comparison false.
    private static func order(_ op: BinaryOperator, _ a: Double, _ b: Double) -> Bool {
        switch op {
        case .less: a < b
        case .lessEqual: a <= b
        case .greater: a > b
        default: a >= b
        }
    }

    private mutating func fieldID(_ name: String) -> FieldID {
        if let id = fieldIDs[name] { return id }
        let id = FieldID(index: fieldNames.count)
        fieldNames.append(name)
        fieldIDs[name] = id
        return id
    }

    private mutating func aggregateIndex(_ call: AggregateCall) -> Int {
        if let index = aggregateIndexes[call.description] { return index }
        let input: AggregateInput
        switch call.input {
        case .everyEvent: input = .everyEvent
        case .field(let name): input = .field(name)
        case .predicate(let predicate, let description):
            var eventCompiler = ExpressionCompiler()
            let condition = eventCompiler.compile(predicate, description: description)
            input = .matching(EventPredicate(fieldNames: eventCompiler.fieldNames, condition: condition))
        }
        aggregateIndexes[call.description] = aggregates.count
        aggregates.append(AggregateSpec(function: call.function, windowSeconds: call.windowSeconds,
                                        input: input, description: call.description))
        return aggregates.count - 1
    }
}

extension Value {
    /// Whether this is `true`: `missing`, like `false`, is not.
    var isTrue: Bool {
        if case .boolean(true) = self { true } else { false }
    }

    /// The value if it fits `type` (durations are numbers), else missing.
    func ifKind(of type: FieldType) -> Value {
        switch (self, type) {
        case (.number(let value), .number), (.number(let value), .duration): value.isFinite ? self : .missing
        case (.string, .string), (.boolean, .boolean): self
        default: .missing
        }
    }
}
