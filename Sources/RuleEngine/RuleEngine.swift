import ProbeEvents
import RuleLanguage
import StateGraph
import WorkloadIdentity

/// A firing or resolved alert, ready to be written.
public struct Alert: Sendable {
    public enum State: String, Sendable { case firing, resolved }
    public let state: State
    /// Event time of the transition (kernel monotonic ns).
    public let time: UInt64
    /// When the condition started to hold (the onset), event time.
    public let onset: UInt64
    public let rule: String
    public let severity: Severity
    public let labels: [RuleLabel]
    public let entity: AlertEntity
    public let pid: UInt32
    /// The figure that fired (the rule's `value:`, else its first field).
    public let value: Value
    public let message: String
    /// Every field of the subject, by name, at the transition.
    public let evidence: [(name: String, value: Value)]
    /// Who the alert's process is, when known (set as the alert is written).
    public var identity: WorkloadIdentity?
}

/// Evaluates rules over events and the state graph, by event time only.
/// Event-subject rules are evaluated on each event of their type; graph
/// subjects, and alerts already pending or firing, on every tick. State is
/// bounded per rule; beyond the bound the least recently seen inactive
/// entity is forgotten.
public final class RuleEngine {
    public static let maximumEntitiesPerRule = 4096

    private struct PreparedRule {
        let rule: CompiledRule
        let subject: Subject
        let holdNanoseconds: UInt64
        let keepFiringNanoseconds: UInt64
        /// The codes of `rule.fieldNames` for the subject's instances.
        let fieldCodes: [Int]
        /// Every field of the subject, in name order.
        let evidence: [EvidenceField]
        var entities: [AlertEntity: EntityState] = [:]
    }

    private struct EntityState {
        var lifecycle = AlertLifecycle()
        var windows: [AggregateWindow]
        var lastEvent: ProbeEvent?
        var lastIdentity: IdentityCache.Entry?
        var lastSeen: UInt64
        /// The tick (`RuleEngine.ticks`) of the latest evaluation with a
        /// subject: an active alert not evaluated at a tick lost its subject.
        var evaluatedAtTick: UInt64 = 0
        /// What the last evaluation with a subject saw: a resolved line
        /// whose subject is gone reports these.
        var lastPid: UInt32 = 0
        var lastValue = Value.missing
        var lastEvidence: [(name: String, value: Value)] = []
        /// The subject of the latest evaluation that held without a
        /// transition, and the aggregates it saw: the value and evidence
        /// are made from them only if a line needs them (a firing alert is
        /// re-evaluated every tick, and making its evidence text each time
        /// cost more than the rest of the tick).
        var heldSubject: (any SubjectInstance)?
        var heldAggregates: [Double] = []
    }

    // The engine's state is touched on every event and for every instance
    // at a tick, from one thread: no dynamic exclusivity checks.
    @exclusivity(unchecked) private var rules: [PreparedRule]
    /// The graph subjects some rule is about: only those are built per tick.
    private let neededSubjects: Set<Subject>
    /// `neededSubjects` holds `.kernelDrops`: asked per event, and a Subject
    /// hashes with a Hasher.
    private let countsKernelDrops: Bool
    /// The rules an event can concern: event subjects, and rules with
    /// aggregates. Graph rules alone wait for the tick.
    private let eventRules: [Int]
    @exclusivity(unchecked) private var reasons: [UInt32: String]
    private let context = RuleContext()
    @exclusivity(unchecked) private var drops: [KernelDropKey: KernelDropCount] = [:]
    /// Keys given to counts whose reason was renamed (`learnDropReason`).
    private var retiredDropCounts: UInt32 = 0
    private let dropWindowSeconds: Double
    public private(set) var forgottenEntities: UInt64 = 0
    /// Ticks so far: marks which entities a tick evaluated.
    private var ticks: UInt64 = 0
    /// The identity fields of the identities evidence was made for.
    private var identityEvidence: [ObjectIdentifier: (entry: IdentityCache.Entry, values: [Value])] = [:]
    /// The last tick's connection instances, reused by the next.
    @exclusivity(unchecked) private var spareConnections: [ConnectionInstance] = []

    public init(rules: RuleSet, dropReasonNames: [UInt32: String], windowSeconds: Double = 5) {
        reasons = dropReasonNames
        dropWindowSeconds = windowSeconds
        self.rules = rules.rules.filter(\.isEnabled).compactMap { rule in
            guard let subject = Subject.byName[rule.subject] else { return nil }
            let evidenceFields = subject.fields.keys.sorted()
            let evidenceCodes = subject.fieldCodes(of: evidenceFields)
            return PreparedRule(
                rule: rule, subject: subject,
                holdNanoseconds: UInt64(rule.forSeconds * 1e9),
                keepFiringNanoseconds: UInt64(rule.keepFiringSeconds * 1e9),
                fieldCodes: subject.fieldCodes(of: rule.fieldNames),
                evidence: evidenceFields.indices.map { field in
                    let name = evidenceFields[field]
                    return EvidenceField(
                        name: name, code: evidenceCodes[field],
                        ruleField: rule.fieldNames.firstIndex(of: name) ?? -1,
                        identityField: subject.readsProcessIdentity ? Self.identityFieldNames.firstIndex(of: name) ?? -1 : -1)
                })
        }
        let prepared = self.rules
        neededSubjects = Set(prepared.map(\.subject))
        countsKernelDrops = neededSubjects.contains(.kernelDrops)
        eventRules = prepared.indices.filter { index in
            if case .event = prepared[index].subject { return true }
            return !prepared[index].rule.aggregates.isEmpty
        }
    }

    /// Names a drop reason code this engine did not know (replays).
    public func learnDropReason(_ code: UInt32, name: String) {
        guard reasons[code] == nil else { return }
        reasons[code] = name
        // Drops counted under the old text stay its entity's; new ones
        // count under the name.
        for key in drops.keys where key.code == code && key.retired == 0 && name != "UNKNOWN_\(code)" {
            retiredDropCounts += 1
            drops[KernelDropKey(netns: key.netns, code: code, retired: retiredDropCounts)] = drops.removeValue(forKey: key)
        }
    }

    /// The rules checks against: every subject and the event fields.
    public static func load(files: [(path: String, bytes: [UInt8])]) throws(RuleFileErrors) -> RuleSet {
        try loadRules(files: files, subjectSchemas: Subject.schemas, eventSchema: EventFields.schema)
    }

    // MARK: Events

    /// Folds an event into aggregates and drop counters, and evaluates the
    /// event-subject rules it concerns.
    /// `identity`: who the event's process is, for rules that read it.
    public func observe(_ event: ProbeEvent, identity: IdentityCache.Entry? = nil, alerts: inout [Alert]) {
        let time = event.monotonicNanoseconds
        if event.kind == .drop, countsKernelDrops {
            let key = KernelDropKey(netns: event.networkNamespace, code: event.dropReason, retired: 0)
            if let index = drops.index(forKey: key) {
                drops.values[index].window.add(1, at: time)
            } else if let entity = AlertEntity.of(event, for: .kernelDrops, reasons: reasons) {
                var window = SlidingWindow(seconds: dropWindowSeconds)
                window.add(1, at: time)
                drops[key] = KernelDropCount(entity: entity, window: window)
            }
        }
        if !eventRules.isEmpty { observe(event, byEventRules: identity, alerts: &alerts) }
    }

    /// Apart: what it does with the event (kept, captured) has it copied
    /// on entry, and most rule sets have no event rules.
    private func observe(_ event: ProbeEvent, byEventRules identity: IdentityCache.Entry?, alerts: inout [Alert]) {
        let time = event.monotonicNanoseconds
        for index in eventRules {
            let subject = rules[index].subject
            let isSubject = subject.matches(event)
            guard isSubject || !rules[index].rule.aggregates.isEmpty,
                  let entity = AlertEntity.of(event, for: subject, reasons: reasons) else { continue }
            guard let position = position(of: entity, in: index, at: time) else { continue }
            rules[index].entities.values[position].lastSeen = time
            feed(event, identity: identity, toAggregatesOf: index, at: position)
            if isSubject {
                rules[index].entities.values[position].lastEvent = event
                rules[index].entities.values[position].lastIdentity = identity
                let instance = EventInstance(event: event, entity: entity, reasons: reasons, identity: identity)
                evaluate(index, instance, at: time, alerts: &alerts)
            }
        }
    }

    private func feed(_ event: ProbeEvent, identity: IdentityCache.Entry?, toAggregatesOf index: Int,
                      at position: EntityPosition) {
        let specs = rules[index].rule.aggregates
        guard !specs.isEmpty else { return }
        for (slot, spec) in specs.enumerated() {
            let amount: Double
            switch spec.input {
            case .everyEvent:
                amount = 1
            case .field(let name):
                guard case .number(let number) = EventFields.value(name, of: event, reasons: reasons, identity: identity) else { continue }
                amount = number
            case .matching(let predicate):
                context.load(predicate.fieldNames) { [reasons] in
                    EventFields.value($0, of: event, reasons: reasons, identity: identity)
                }
                guard predicate.matches(context) else { continue }
                amount = 1
            }
            rules[index].entities.values[position].windows[slot].add(amount, at: event.monotonicNanoseconds)
        }
    }

    // MARK: Ticks

    /// Evaluates every graph-subject rule for every instance the graph
    /// holds, and re-evaluates pending and firing alerts whose subject is
    /// gone (which resolves them).
    public func evaluate(graph: StateGraph, at time: UInt64, alerts: inout [Alert]) {
        let instances = Instances(graph: graph, drops: &drops, at: time, needed: neededSubjects,
                                  spareConnections: &spareConnections)
        defer { spareConnections = instances.connections }
        ticks += 1
        for index in rules.indices {
            switch rules[index].subject {
            case .waitsOnNetwork: for instance in instances.networkEdges { evaluate(index, instance, at: time, alerts: &alerts) }
            case .peer: for instance in instances.peers { evaluate(index, instance, at: time, alerts: &alerts) }
            case .connection: for instance in instances.connections { evaluate(index, instance, at: time, alerts: &alerts) }
            case .kernelDrops: for instance in instances.kernelDrops { evaluate(index, instance, at: time, alerts: &alerts) }
            case .job: for instance in instances.jobs { evaluate(index, instance, at: time, alerts: &alerts) }
            case .event:
                // A condition over one event holds at that event only; with
                // windowed aggregates it is re-checked as the windows decay.
                guard !rules[index].rule.aggregates.isEmpty else { break }
                for entity in activeEntities(of: index) {
                    guard let event = rules[index].entities[entity]?.lastEvent else { continue }
                    let identity = rules[index].entities[entity]?.lastIdentity
                    evaluate(index, EventInstance(event: event, entity: entity, reasons: reasons, identity: identity),
                             at: time, alerts: &alerts)
                }
            }
            // Active alerts whose subject left the graph: the condition no longer holds.
            for entity in activeEntities(of: index, notEvaluatedAtTick: ticks) {
                updateWithoutSubject(index, entityAt: rules[index].entities.index(forKey: entity)!, at: time,
                                     alerts: &alerts)
            }
            forgetIdle(in: index, at: time)
        }
    }

    /// The pending and firing entities of rule `index` but those evaluated
    /// at tick `tick` (if given), in the order of their ids (replays must
    /// agree). Only these are sorted: a rule may track thousands of
    /// entities, and in a storm most are firing and evaluated.
    private func activeEntities(of index: Int, notEvaluatedAtTick tick: UInt64? = nil) -> [AlertEntity] {
        // States read in place: iterating the table copies each one.
        var active: [(id: String, entity: AlertEntity)] = []
        var position = rules[index].entities.startIndex
        while position != rules[index].entities.endIndex {
            let (phase, _, evaluatedAtTick) = Self.bookkeeping(&rules[index].entities.values[position])
            if phase != .inactive && evaluatedAtTick != tick {
                let entity = rules[index].entities.keys[position]
                // Each id is made once, not once per comparison.
                active.append((entity.description, entity))
            }
            rules[index].entities.formIndex(after: &position)
        }
        return active.sorted { $0.id < $1.id }.map(\.entity)
    }

    // MARK: Evaluation

    private func evaluate(_ index: Int, _ instance: some SubjectInstance, at time: UInt64, alerts: inout [Alert]) {
        let tracked = rules[index].entities.index(forKey: instance.entity)
        if tracked == nil && rules[index].rule.aggregates.isEmpty {
            // Without aggregates, a new entity needs a state only if its
            // condition holds: else it stays inactive and is forgotten at
            // this tick's end. Most subjects are quiet at most ticks.
            loadFields(index, instance)
            guard rules[index].rule.condition.holds(in: context),
                  let position = position(of: instance.entity, in: index, at: time) else { return }
            update(index, entityAt: position, holds: true, at: time, instance: instance, alerts: &alerts)
            return
        }
        guard let position = tracked ?? position(of: instance.entity, in: index, at: time) else { return }
        load(index, instance, at: position, time: time)
        let holds = rules[index].rule.condition.holds(in: context)
        update(index, entityAt: position, holds: holds, at: time, instance: instance, alerts: &alerts)
    }

    /// A field of an alert's evidence: its code for the subject's instances,
    /// its index among the rule's fields and among `identityFieldNames`
    /// (-1: not one of them).
    private struct EvidenceField {
        let name: String
        let code: Int
        let ruleField: Int
        let identityField: Int
    }

    private static let identityFieldNames = Subject.identityFields.keys.sorted()

    private typealias EntityPosition = Dictionary<AlertEntity, EntityState>.Index

    /// Where the state of `entity` under rule `index` is, made if new; nil
    /// when there is no room. The state is then changed in place through
    /// it: a keyed access hashes each time and moves the whole state out
    /// and back, and a keyed read copies it.
    private func position(of entity: AlertEntity, in index: Int, at time: UInt64) -> EntityPosition? {
        if let position = rules[index].entities.index(forKey: entity) { return position }
        guard makeRoom(in: index) else { return nil }
        rules[index].entities[entity] = EntityState(
            windows: rules[index].rule.aggregates.map(AggregateWindow.init), lastSeen: time)
        return rules[index].entities.index(forKey: entity)
    }

    /// The instance's fields, and no aggregates yet.
    private func loadFields(_ index: Int, _ instance: some SubjectInstance) {
        context.load(rule: index, fields: { (rules[index].rule.fieldNames, rules[index].fieldCodes) },
                     instance.value(code:name:))
        context.aggregates.removeAll(keepingCapacity: true)
    }

    private func load(_ index: Int, _ instance: some SubjectInstance, at position: EntityPosition, time: UInt64) {
        loadFields(index, instance)
        for slot in rules[index].rule.aggregates.indices {
            context.aggregates.append(rules[index].entities.values[position].windows[slot].value(at: time))
        }
    }

    /// Folds an evaluation of `instance` into the entity's alert. Generic,
    /// not over an optional existential: unwrapping and storing one went
    /// through value witnesses at every tracked subject of every tick.
    private func update(_ index: Int, entityAt position: EntityPosition, holds: Bool, at time: UInt64,
                        instance: some SubjectInstance, alerts: inout [Alert]) {
        rules[index].entities.values[position].lastPid = instance.pid
        rules[index].entities.values[position].evaluatedAtTick = ticks
        guard let transition = updateLifecycle(index, entityAt: position, holds: holds, at: time) else {
            if holds {
                rules[index].entities.values[position].heldSubject = instance
                rules[index].entities.values[position].heldAggregates = context.aggregates
            }
            return
        }
        // Fields one by one: a copy of rules[index] would hold a second
        // reference to its entity table and make every change copy it. The
        // rule is copied only for a line: that retains each of its parts.
        let rule = rules[index].rule
        remember(instance, rule: rule, in: index, at: position)
        rules[index].entities.values[position].heldSubject = nil
        appendAlert(transition, index, entityAt: position, at: time, message: rule.message.render(context),
                    alerts: &alerts)
    }

    /// The subject of an active alert is gone: its condition no longer holds.
    private func updateWithoutSubject(_ index: Int, entityAt position: EntityPosition, at time: UInt64,
                                      alerts: inout [Alert]) {
        guard let transition = updateLifecycle(index, entityAt: position, holds: false, at: time) else { return }
        let rule = rules[index].rule
        if let held = rules[index].entities.values[position].heldSubject {
            context.load(rule: index, fields: { (rule.fieldNames, rules[index].fieldCodes) }, held.value(code:name:))
            context.aggregates = rules[index].entities.values[position].heldAggregates
            remember(held, rule: rule, in: index, at: position)
        }
        rules[index].entities.values[position].heldSubject = nil
        // Its last known figures, and a message saying the condition no
        // longer holds.
        let entity = rules[index].entities.keys[position]
        appendAlert(transition, index, entityAt: position, at: time,
                    message: "\(rule.name) no longer holds for \(entity)", alerts: &alerts)
    }

    private func updateLifecycle(_ index: Int, entityAt position: EntityPosition, holds: Bool,
                                 at time: UInt64) -> AlertLifecycle.Transition? {
        rules[index].entities.values[position].lifecycle.update(
            holds: holds, at: time, for: rules[index].holdNanoseconds, keepFiring: rules[index].keepFiringNanoseconds)
    }

    private func appendAlert(_ transition: AlertLifecycle.Transition, _ index: Int, entityAt position: EntityPosition,
                             at time: UInt64, message: String, alerts: inout [Alert]) {
        let rule = rules[index].rule
        let state = rules[index].entities.values[position]
        alerts.append(Alert(
            state: transition == .firing ? .firing : .resolved, time: time,
            onset: state.lifecycle.pendingSince, rule: rule.name, severity: rule.severity, labels: rule.labels,
            entity: rules[index].entities.keys[position], pid: state.lastPid, value: state.lastValue,
            message: message, evidence: state.lastEvidence))
    }

    /// Keeps the figures of an evaluation that had its subject (the context
    /// is loaded with it: the rule's own fields are read from it, most
    /// already looked up for the condition and message).
    private func remember(_ instance: some SubjectInstance, rule: CompiledRule, in index: Int, at position: EntityPosition) {
        rules[index].entities.values[position].lastValue =
            rule.value?.evaluate(context) ?? rule.fieldNames.first.map { instance.value($0) } ?? .missing
        let identityValues = instance.identity.map(identityFieldValues)
        rules[index].entities.values[position].lastEvidence = rules[index].evidence.map { field in
            let value = if field.identityField >= 0 {
                identityValues?[field.identityField] ?? .missing
            } else if field.ruleField >= 0 {
                context.value(of: FieldID(index: field.ruleField))
            } else {
                instance.value(code: field.code, name: field.name)
            }
            return (field.name, value)
        }
    }

    /// The values of `identityFieldNames` for `entry`, made once per entry
    /// (it never changes): each read copied the identity, a dozen strings,
    /// out of its entry, and an alert's evidence reads every one.
    private func identityFieldValues(of entry: IdentityCache.Entry) -> [Value] {
        if let known = identityEvidence[ObjectIdentifier(entry)] { return known.values }
        // The entries are held, so that no other takes an identifier here.
        if identityEvidence.count >= Self.maximumEntitiesPerRule { identityEvidence.removeAll() }
        let values = Self.identityFieldNames.map { Optional(entry).value($0) }
        identityEvidence[ObjectIdentifier(entry)] = (entry, values)
        return values
    }

    /// Makes room for one more entity of rule `index`; false when every
    /// entity is active (then the new one is not tracked, and counted).
    private func makeRoom(in index: Int) -> Bool {
        guard rules[index].entities.count >= Self.maximumEntitiesPerRule else { return true }
        // The least recently seen inactive entity (ties by id), found in
        // place: a filtered copy of a full table per new entity made a
        // long storm quadratic.
        var oldest: (position: Dictionary<AlertEntity, EntityState>.Index, lastSeen: UInt64)?
        var position = rules[index].entities.startIndex
        while position != rules[index].entities.endIndex {
            let (phase, lastSeen, _) = Self.bookkeeping(&rules[index].entities.values[position])
            if phase == .inactive {
                if let best = oldest {
                    if lastSeen < best.lastSeen || (lastSeen == best.lastSeen
                        && rules[index].entities.keys[position].description < rules[index].entities.keys[best.position].description) {
                        oldest = (position, lastSeen)
                    }
                } else {
                    oldest = (position, lastSeen)
                }
            }
            rules[index].entities.formIndex(after: &position)
        }
        guard let oldest else {
            forgottenEntities += 1
            return false
        }
        rules[index].entities.remove(at: oldest.position)
        forgottenEntities += 1
        return true
    }

    /// Read in place (inout): a plain read of a table's value copies the
    /// whole state, retaining each of its arrays.
    private static func bookkeeping(_ state: inout EntityState)
        -> (phase: AlertLifecycle.Phase, lastSeen: UInt64, evaluatedAtTick: UInt64) {
        (state.lifecycle.phase, state.lastSeen, state.evaluatedAtTick)
    }

    /// Drops inactive entities whose windows have emptied.
    private func forgetIdle(in index: Int, at time: UInt64) {
        // In place through indices, removals after: changing the table while
        // iterating over it would copy the whole table.
        var idle: [AlertEntity] = []
        var position = rules[index].entities.startIndex
        while position != rules[index].entities.endIndex {
            if Self.bookkeeping(&rules[index].entities.values[position]).phase == .inactive
                && Self.windowsEmpty(&rules[index].entities.values[position].windows, at: time) {
                idle.append(rules[index].entities.keys[position])
            }
            rules[index].entities.formIndex(after: &position)
        }
        for entity in idle { rules[index].entities[entity] = nil }
    }

    private static func windowsEmpty(_ windows: inout [AggregateWindow], at time: UInt64) -> Bool {
        windows.indices.allSatisfy { windows[$0].isEmpty(at: time) }
    }
}

extension Subject {
    func matches(_ event: ProbeEvent) -> Bool {
        guard case .event(let kind, let sent) = self else { return false }
        switch kind {
        case .retransmit: return (event.kind == .retransmit || event.kind == .synAckRetransmit) && (event.error == 0) == sent
        default: return event.kind == kind
        }
    }
}

extension AlertEntity {
    var pid: UInt32 {
        switch self {
        case .network(let pid), .process(let pid): pid
        default: 0
        }
    }
}

/// The values a rule reads, for one subject at a time; a class so that the
/// existential the compiled expressions take allocates nothing. A field is
/// looked up when an expression first reads it: at a tick most subjects
/// only have their condition checked, and their message fields (addresses
/// and names made into text) are needed only for a line.
final class RuleContext: EvaluationContext {
    @exclusivity(unchecked) private var names: [String] = []
    /// The subject's code of each name (-1: read by name).
    @exclusivity(unchecked) private var codes: [Int] = []
    @exclusivity(unchecked) private var lookup: (Int, String) -> Value = { _, _ in .missing }
    /// The values looked up, by field index: the current subject's are
    /// those whose `loadNumbers` entry is `loads`. Numbered, not cleared: a
    /// clear wrote and released every slot for each subject at a tick.
    @exclusivity(unchecked) private var values: [Value] = []
    @exclusivity(unchecked) private var loadNumbers: [UInt64] = []
    /// Subjects loaded so far.
    @exclusivity(unchecked) private var loads: UInt64 = 0
    @exclusivity(unchecked) var aggregates: [Double] = []

    /// The engine's rule whose fields `names` and `codes` are; nil when
    /// they are other names (an event predicate's).
    @exclusivity(unchecked) private var namesOfRule: Int?

    /// Fields read by name only (events).
    func load(_ names: [String], _ lookup: @escaping (String) -> Value) {
        namesOfRule = nil
        set(names, codes: [], { _, name in lookup(name) })
    }

    /// The fields of the engine's rule `rule`, as `fields` gives them: asked
    /// only when another rule's (or other names) were loaded last, since
    /// taking the arrays retains and releases each, at every subject.
    func load(rule: Int, fields: () -> (names: [String], codes: [Int]),
              _ lookup: @escaping (_ code: Int, _ name: String) -> Value) {
        guard namesOfRule != rule else {
            set(lookup)
            return
        }
        namesOfRule = rule
        let (names, codes) = fields()
        set(names, codes: codes, lookup)
    }

    private func set(_ names: [String], codes: [Int], _ lookup: @escaping (_ code: Int, _ name: String) -> Value) {
        self.names = names
        self.codes = codes
        set(lookup)
    }

    private func set(_ lookup: @escaping (_ code: Int, _ name: String) -> Value) {
        self.lookup = lookup
        loads += 1
        if values.count < names.count {
            values += repeatElement(.missing, count: names.count - values.count)
            loadNumbers += repeatElement(0, count: names.count - loadNumbers.count)
        }
    }

    func value(of field: FieldID) -> Value {
        guard field.index < names.count else { return .missing }
        if loadNumbers[field.index] == loads { return values[field.index] }
        let value = lookup(field.index < codes.count ? codes[field.index] : -1, names[field.index])
        values[field.index] = value
        loadNumbers[field.index] = loads
        return value
    }

    func aggregate(_ index: Int) -> Double {
        index < aggregates.count ? aggregates[index] : .nan
    }
}
