/// Resolves names and checks types. A rule's expressions read the fields of
/// its subject; inside an aggregate they read the fields of events instead.
/// Errors point at the offending token; inside a macro they point into the
/// macro and say where the macro was used.
struct TypeChecker {
    let file: String
    let subjectSchema: FieldSchema
    let eventSchema: FieldSchema
    let lists: [String: RuleList]
    let functions: [AggregateFunction]

    /// Where an expression is being checked.
    private struct Context {
        /// The aggregate whose argument this is; nil at the subject level.
        var aggregate: AggregateFunction?
        /// The outermost macro being checked and where the rule used it.
        var macroUse: (name: String, mark: SourceMark)?
    }

    /// A condition: must be true or false.
    func checkCondition(_ expression: Expression) throws(RuleFileError) -> TypedExpression {
        let typed = try check(expression, Context())
        guard typed.type == .boolean else {
            throw fail(expression.mark, "a condition must be true or false, but this is \(typed.type.withArticle)", Context())
        }
        return typed
    }

    /// A value of any type (a message placeholder).
    func checkValue(_ expression: Expression) throws(RuleFileError) -> TypedExpression {
        try check(expression, Context())
    }

    private func fail(_ mark: SourceMark, _ message: String, _ context: Context) -> RuleFileError {
        guard let use = context.macroUse else { return RuleFileError(file: file, at: mark, message) }
        return RuleFileError(file: file, at: mark, "\(message) (in macro '\(use.name)', used at \(use.mark))")
    }

    private func check(_ expression: Expression, _ context: Context) throws(RuleFileError) -> TypedExpression {
        switch expression {
        case .number(let value, _): return .constant(.number(value), .number)
        case .duration(let seconds, _): return .constant(.number(seconds), .duration)
        case .string(let text, _): return .constant(.string(text), .string)
        case .boolean(let value, _): return .constant(.boolean(value), .boolean)
        case .name(let name, let mark): return try field(name, at: mark, context)
        case .call(let name, let arguments, let mark): return .aggregate(try call(name, arguments, at: mark, context))
        case .negate(let operand, let mark):
            let typed = try check(operand, context)
            guard typed.type.isNumeric else {
                throw fail(mark, "'-' needs a number or a duration, not \(typed.type.withArticle)", context)
            }
            return .negate(typed)
        case .not(let operand, let mark):
            let typed = try check(operand, context)
            guard typed.type == .boolean else {
                throw fail(mark, "'not' needs true or false, not \(typed.type.withArticle)", context)
            }
            return .not(typed)
        case .binary(let op, let left, let right, let mark):
            return try binary(op, try check(left, context), try check(right, context), at: mark, context)
        case .membership(let value, let set, let negated, _):
            let typed = try check(value, context)
            return .membership(typed, try members(of: set, for: typed.type, context), negated: negated)
        case .macro(let name, let body, let mark):
            var inner = context
            inner.macroUse = context.macroUse ?? (name, mark)
            return try check(body, inner)
        }
    }

    private func field(_ name: String, at mark: SourceMark, _ context: Context) throws(RuleFileError) -> TypedExpression {
        let (schema, other) = context.aggregate == nil ? (subjectSchema, eventSchema) : (eventSchema, subjectSchema)
        if let type = schema.fields[name] { return .field(name, type) }
        if lists[name] != nil {
            throw fail(mark, "'\(name)' is a list; use it after 'in', as in 'value in \(name)'", context)
        }
        if other.fields[name] != nil {
            let hint = context.aggregate.map { "a field of the subject, not of events; only event fields can be used inside '\($0.rawValue)'" }
                ?? "an event field; read it through an aggregate such as sum(\(name), 30s)"
            throw fail(mark, "'\(name)' is \(hint)", context)
        }
        let kind = context.aggregate == nil ? "field" : "event field"
        throw fail(mark, "unknown \(kind) '\(name)'\(suggestion(for: name, among: schema.fields.keys))", context)
    }

    private func call(_ name: String, _ arguments: [Expression], at mark: SourceMark,
                      _ context: Context) throws(RuleFileError) -> AggregateCall {
        if let outer = context.aggregate, AggregateFunction(rawValue: name) != nil {
            throw fail(mark, "aggregates cannot be nested: '\(name)' inside '\(outer.rawValue)'", context)
        }
        guard let function = functions.first(where: { $0.rawValue == name }) else {
            let known = functions.isEmpty ? "; no functions are available" : suggestion(for: name, among: functions.map(\.rawValue))
            throw fail(mark, "unknown function '\(name)'\(known)", context)
        }
        guard function.argumentCounts.contains(arguments.count) else {
            throw fail(mark, "'\(name)' takes \(function.signature), not \(arguments.count) argument\(arguments.count == 1 ? "" : "s")", context)
        }
        let window = arguments[arguments.count - 1]
        guard case .duration(let seconds, _) = window else {
            throw fail(window.mark, "the window of '\(name)' must be a duration literal like 30s", context)
        }
        guard AggregateFunction.windowRange.contains(seconds) else {
            throw fail(window.mark, "the window \(canonicalDuration(seconds)) of '\(name)' is out of range (1s to 1h)", context)
        }
        let description = Expression.call(name, arguments, mark).description
        guard arguments.count == 2 else {
            return AggregateCall(function: function, windowSeconds: seconds, input: .everyEvent, type: .number, description: description)
        }
        let (input, type) = try aggregateInput(of: function, arguments[0], context)
        return AggregateCall(function: function, windowSeconds: seconds, input: input, type: type, description: description)
    }

    /// What an aggregate reads: for `count`, a predicate over events; for
    /// the others, a numeric event field, which also gives the result's type.
    private func aggregateInput(of function: AggregateFunction, _ argument: Expression,
                                _ context: Context) throws(RuleFileError) -> (AggregateCall.Input, FieldType) {
        let name = function.rawValue
        var inner = context
        inner.aggregate = function
        if function == .count {
            let predicate = try check(argument, inner)
            guard predicate.type == .boolean else {
                throw fail(argument.mark, "the predicate of 'count' must be true or false, not \(predicate.type.withArticle)", context)
            }
            return (.predicate(predicate, description: argument.description), .number)
        }
        if case .call(let innerName, _, let innerMark) = argument, AggregateFunction(rawValue: innerName) != nil {
            throw fail(innerMark, "aggregates cannot be nested: '\(innerName)' inside '\(name)'", context)
        }
        guard case .name(let fieldName, let fieldMark) = argument else {
            throw fail(argument.mark, "the first argument of '\(name)' must be the name of an event field", context)
        }
        let fieldType = try field(fieldName, at: fieldMark, inner).type
        guard fieldType.isNumeric else {
            throw fail(fieldMark, "'\(name)' needs a number or duration field; '\(fieldName)' is \(fieldType.withArticle)", context)
        }
        return (.field(fieldName), function.resultType(field: fieldType))
    }

    private func binary(_ op: BinaryOperator, _ left: TypedExpression, _ right: TypedExpression,
                        at mark: SourceMark, _ context: Context) throws(RuleFileError) -> TypedExpression {
        let (l, r) = (left.type, right.type)
        switch op {
        case .and, .or:
            guard l == .boolean, r == .boolean else {
                let side = l == .boolean ? "right side is \(r.withArticle)" : "left side is \(l.withArticle)"
                throw fail(mark, "'\(op.rawValue)' needs true or false on both sides; the \(side)", context)
            }
            return .logical(op, left, right)
        case .add, .subtract, .multiply, .divide:
            guard let type = Self.arithmeticType(op, l, r) else {
                throw fail(mark, "cannot apply '\(op.rawValue)' to \(l.withArticle) and \(r.withArticle)\(Self.unitHint(l, r))", context)
            }
            return .arithmetic(op, left, right, type)
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual:
            guard l == r else {
                throw fail(mark, "cannot compare \(l.withArticle) with \(r.withArticle)\(Self.unitHint(l, r))", context)
            }
            guard !op.isOrdering || l.isNumeric else {
                throw fail(mark, "'\(op.rawValue)' orders numbers and durations only; \(l)s take '==' and '!='", context)
            }
            return .comparison(op, left, right)
        }
    }

    /// Numbers with numbers; durations add to durations, scale by numbers,
    /// and divide into a number.
    private static func arithmeticType(_ op: BinaryOperator, _ l: FieldType, _ r: FieldType) -> FieldType? {
        switch (op, l, r) {
        case (_, .number, .number): .number
        case (.add, .duration, .duration), (.subtract, .duration, .duration): .duration
        case (.multiply, .duration, .number), (.multiply, .number, .duration), (.divide, .duration, .number): .duration
        case (.divide, .duration, .duration): .number
        default: nil
        }
    }

    private static func unitHint(_ l: FieldType, _ r: FieldType) -> String {
        Set([l, r]) == [.number, .duration] ? "; write durations with a unit, like 30s" : ""
    }

    /// The values of `in (…)`, which must be literals, or of a named list.
    private func members(of set: MembershipSet, for type: FieldType, _ context: Context) throws(RuleFileError) -> [Value] {
        switch set {
        case .list(let name, let listMark):
            guard let list = lists[name] else {
                throw fail(listMark, "unknown list '\(name)'\(suggestion(for: name, among: lists.keys))", context)
            }
            if let itemType = list.type, itemType != type {
                throw fail(listMark, "list '\(name)' holds \(itemType)s, but the value before 'in' is \(type.withArticle)", context)
            }
            return list.values
        case .items(let items):
            var values: [Value] = []
            for item in items {
                guard let (value, itemType) = Self.literal(item) else {
                    throw fail(item.mark, "the values after 'in' must be literals (numbers, durations, strings, true, false)", context)
                }
                guard itemType == type else {
                    throw fail(item.mark, "this value is \(itemType.withArticle), but the value before 'in' is \(type.withArticle)", context)
                }
                values.append(value)
            }
            return values
        }
    }

    private static func literal(_ expression: Expression) -> (Value, FieldType)? {
        switch expression {
        case .number(let value, _): (.number(value), .number)
        case .duration(let seconds, _): (.number(seconds), .duration)
        case .string(let text, _): (.string(text), .string)
        case .boolean(let value, _): (.boolean(value), .boolean)
        case .negate(.number(let value, _), _): (.number(-value), .number)
        case .negate(.duration(let seconds, _), _): (.number(-seconds), .duration)
        default: nil
        }
    }
}
