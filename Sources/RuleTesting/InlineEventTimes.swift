import RuleLanguage

extension InlineEventParser {
    /// `at`, or `at` then every `every` until `until` (inclusive) or `count` times.
    func readTimes(_ keys: KeyedMapping, diagnostics: inout Diagnostics) -> [UInt64]? {
        let file = self.file
        guard let at = keys.read("at", diagnostics: &diagnostics, { node throws(RuleFileError) in
            try duration(node, key: "at", file: file)
        }) else { return nil }
        let every = keys.read("every", diagnostics: &diagnostics) { node throws(RuleFileError) in
            let interval = try duration(node, key: "every", file: file)
            guard interval > 0 else { throw RuleFileError(file: file, at: node.mark, "'every' must be longer than 0s") }
            return interval
        }
        let until = keys.read("until", diagnostics: &diagnostics) { node throws(RuleFileError) in
            try duration(node, key: "until", file: file)
        }
        let count = keys.number("count", in: 1...Self.maximumEvents, diagnostics: &diagnostics)
        guard keys["every"] == nil || every != nil, keys["until"] == nil || until != nil,
              keys["count"] == nil || count != nil else { return nil }
        switch (every, until, count) {
        case (nil, nil, nil):
            return [at]
        case (let every?, let until?, nil):
            guard until >= at else {
                diagnostics.record(keys["until"]!.mark, "'until' (\(DurationText.text(Int64(until)))) must not be "
                                   + "before 'at' (\(DurationText.text(Int64(at))))")
                return nil
            }
            guard (until - at) / every < UInt64(Self.maximumEvents) else {
                diagnostics.record(keys.mark, "these events make the test longer than \(Self.maximumEvents) events; "
                                   + "use a longer 'every' or a shorter span")
                return nil
            }
            return Array(stride(from: at, through: until, by: Int(every)))
        case (let every?, nil, let count?):
            // Both are bounded (a day, 100,000): the product fits.
            guard at + every * UInt64(count - 1) <= DurationText.longest else {
                diagnostics.record(keys.mark, "these events run past 24h")
                return nil
            }
            return (0..<UInt64(count)).map { at + $0 * every }
        case (nil, _, _):
            diagnostics.record(keys.mark, "'until' and 'count' repeat an event: they need 'every' (the interval)")
            return nil
        case (_, nil, nil):
            diagnostics.record(keys.mark, "'every' needs 'until' (the last time) or 'count' (how many events)")
            return nil
        default:
            diagnostics.record(keys.mark, "give either 'until' or 'count' with 'every', not both")
            return nil
        }
    }
}
