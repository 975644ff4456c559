/// " (did you mean 'retransmit_rate'?)" for the closest candidate within a
/// few edits or that the name abbreviates, or "" when nothing is close.
func suggestion(for name: String, among candidates: some Sequence<String>) -> String {
    let target = Array(name.lowercased().unicodeScalars)
    let limit = max(2, target.count / 3)
    var best: (distance: Int, candidate: String)?
    for candidate in candidates {
        let other = Array(candidate.lowercased().unicodeScalars)
        let distance = editDistance(target, other)
        let abbreviates = target.count >= 3 && other.starts(with: target)
        if distance <= limit || abbreviates, best.map({ (distance, candidate) < ($0.distance, $0.candidate) }) ?? true {
            best = (distance, candidate)
        }
    }
    return best.map { " (did you mean '\($0.candidate)'?)" } ?? ""
}

/// Levenshtein distance: insertions, deletions and substitutions.
func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    var previous = Array(0...b.count)
    for (i, x) in a.enumerated() {
        var current = [i + 1]
        for (j, y) in b.enumerated() {
            current.append(Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
        }
        previous = current
    }
    return previous[b.count]
}
