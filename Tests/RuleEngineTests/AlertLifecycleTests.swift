import XCTest
@testable import RuleEngine

final class AlertLifecycleTests: XCTestCase {
    typealias Phase = AlertLifecycle.Phase
    typealias Transition = AlertLifecycle.Transition

    struct Step {
        let time: UInt64
        let holds: Bool
        let transition: Transition?
        let phase: Phase
    }

    struct Case {
        let name: String
        let hold: UInt64
        let keepFiring: UInt64
        let steps: [Step]
    }

    static let s = secondNanoseconds

    static func at(_ time: UInt64, _ holds: Bool, _ transition: Transition?, _ phase: Phase) -> Step {
        Step(time: time, holds: holds, transition: transition, phase: phase)
    }

    static let cases: [Case] = [
        Case(name: "inactive stays inactive while the condition does not hold", hold: s, keepFiring: 0, steps: [
            at(10 * s, false, nil, .inactive),
            at(20 * s, false, nil, .inactive),
        ]),
        Case(name: "for: 0 fires at once and only once", hold: 0, keepFiring: 0, steps: [
            at(10 * s, true, .firing, .firing),
            at(11 * s, true, nil, .firing),
            at(12 * s, true, nil, .firing),
        ]),
        Case(name: "inactive -> pending -> firing exactly at the end of for", hold: s, keepFiring: 0, steps: [
            at(10 * s, true, nil, .pending),
            at(11 * s - 1, true, nil, .pending),
            at(11 * s, true, .firing, .firing),
            at(11 * s + 1, true, nil, .firing),
        ]),
        Case(name: "pending -> inactive when the condition stops, without a line", hold: 2 * s, keepFiring: 0, steps: [
            at(10 * s, true, nil, .pending),
            at(11 * s, false, nil, .inactive),
            // The hold starts over: 12 s is not 2 s after 10 s's onset but after 11.5 s's.
            at(11 * s + s / 2, true, nil, .pending),
            at(12 * s, true, nil, .pending),
            at(13 * s + s / 2 - 1, true, nil, .pending),
            at(13 * s + s / 2, true, .firing, .firing),
        ]),
        Case(name: "firing -> resolved at once without keep_firing_for", hold: 0, keepFiring: 0, steps: [
            at(10 * s, true, .firing, .firing),
            at(10 * s + 1, false, .resolved, .inactive),
            at(11 * s, false, nil, .inactive),
        ]),
        Case(name: "keep_firing_for holds a firing alert to the nanosecond", hold: 0, keepFiring: 3 * s, steps: [
            at(10 * s, true, .firing, .firing),
            at(11 * s, true, nil, .firing),
            at(12 * s, false, nil, .firing),
            at(14 * s - 1, false, nil, .firing),
            at(14 * s, false, .resolved, .inactive),
        ]),
        Case(name: "holding again within keep_firing_for restarts it, with no new line", hold: 0, keepFiring: 2 * s,
             steps: [
                at(10 * s, true, .firing, .firing),
                at(11 * s, false, nil, .firing),
                at(11 * s + s / 2, true, nil, .firing),
                at(12 * s, false, nil, .firing),
                at(13 * s + s / 2 - 1, false, nil, .firing),
                at(13 * s + s / 2, false, .resolved, .inactive),
             ]),
        Case(name: "resolved then holding again fires a second time after for", hold: s, keepFiring: 0, steps: [
            at(10 * s, true, nil, .pending),
            at(11 * s, true, .firing, .firing),
            at(12 * s, false, .resolved, .inactive),
            at(13 * s, true, nil, .pending),
            at(14 * s - 1, true, nil, .pending),
            at(14 * s, true, .firing, .firing),
        ]),
        Case(name: "for and keep_firing_for together", hold: 2 * s, keepFiring: 1 * s, steps: [
            at(1 * s, true, nil, .pending),
            at(3 * s, true, .firing, .firing),
            at(3 * s + s / 2, false, nil, .firing),
            at(4 * s - 1, false, nil, .firing),
            at(4 * s, false, .resolved, .inactive),
        ]),
        Case(name: "pending never fires when the condition flickers", hold: s, keepFiring: 0, steps: [
            at(10 * s, true, nil, .pending),
            at(10 * s + s / 2, false, nil, .inactive),
            at(10 * s + s * 3 / 4, true, nil, .pending),
            at(11 * s + s / 2, false, nil, .inactive),
            at(12 * s, true, nil, .pending),
        ]),
    ]

    func testEveryTransitionAtItsEdges() {
        for testCase in Self.cases {
            var lifecycle = AlertLifecycle()
            for (number, step) in testCase.steps.enumerated() {
                let transition = lifecycle.update(holds: step.holds, at: step.time, for: testCase.hold,
                                                  keepFiring: testCase.keepFiring)
                XCTAssertEqual(transition, step.transition, "\(testCase.name), step \(number) (t=\(step.time))")
                XCTAssertEqual(lifecycle.phase, step.phase, "\(testCase.name), step \(number) (t=\(step.time))")
            }
        }
    }

    func testOnsetIsWhenTheConditionStartedToHold() {
        let s = Self.s
        var lifecycle = AlertLifecycle()
        XCTAssertNil(lifecycle.update(holds: true, at: 5 * s, for: 2 * s, keepFiring: 0))
        XCTAssertEqual(lifecycle.pendingSince, 5 * s)
        XCTAssertNil(lifecycle.update(holds: true, at: 6 * s, for: 2 * s, keepFiring: 0))
        XCTAssertEqual(lifecycle.pendingSince, 5 * s, "a pending alert keeps its onset")
        XCTAssertEqual(lifecycle.update(holds: true, at: 7 * s, for: 2 * s, keepFiring: 0), .firing)
        XCTAssertEqual(lifecycle.pendingSince, 5 * s)
        XCTAssertEqual(lifecycle.firingSince, 7 * s)
        XCTAssertEqual(lifecycle.update(holds: false, at: 8 * s, for: 2 * s, keepFiring: 0), .resolved)
        XCTAssertNil(lifecycle.update(holds: true, at: 9 * s, for: 2 * s, keepFiring: 0))
        XCTAssertEqual(lifecycle.pendingSince, 9 * s, "a new episode has a new onset")
    }

    func testFiresOnceOverAThousandEvaluations() {
        var lifecycle = AlertLifecycle()
        var transitions: [Transition] = []
        for step in 0..<1000 as Range<UInt64> {
            if let transition = lifecycle.update(holds: true, at: step * 1_000_000, for: 10_000_000, keepFiring: 0) {
                transitions.append(transition)
            }
        }
        XCTAssertEqual(transitions, [.firing])
        XCTAssertEqual(lifecycle.firingSince, 10_000_000)
    }

    // Events reach the engine slightly out of order (the ring buffer merges
    // CPUs; replays tolerate 1 s of reordering), so an evaluation can carry
    // an earlier time than the one before it. `time &- pendingSince` then
    // wraps around to a huge duration and `for:` is skipped.
    func testanEarlierEvaluationTimeSkipsTheForDelay() {
        let s = Self.s
        var lifecycle = AlertLifecycle()
        XCTAssertNil(lifecycle.update(holds: true, at: 10 * s, for: s, keepFiring: 0))
        XCTAssertNil(lifecycle.update(holds: true, at: 10 * s - 1_000_000, for: s, keepFiring: 0),
                     "held for -1 ms, not for 1 s: must not fire")
        XCTAssertEqual(lifecycle.phase, .pending)
    }

    // The same wrap-around with keep_firing_for: an evaluation 1 ms earlier
    // than the last one that held resolves at once.
    func testanEarlierEvaluationTimeSkipsKeepFiringFor() {
        let s = Self.s
        var lifecycle = AlertLifecycle()
        XCTAssertEqual(lifecycle.update(holds: true, at: 10 * s, for: 0, keepFiring: 3 * s), .firing)
        XCTAssertNil(lifecycle.update(holds: false, at: 10 * s - 1_000_000, for: 0, keepFiring: 3 * s),
                     "keep_firing_for: 3s has not elapsed")
        XCTAssertEqual(lifecycle.phase, .firing)
    }
}
