/// The synthesis thread's waiting jobs: replies (a caller is waiting) before background work (cache warm-up),
/// then in arrival order. A plain value; the synthesizer guards it with its lock.
public struct SynthesisQueue<Item>: Sendable where Item: Sendable {
    private var items: [(priority: SynthesisPriority, arrival: UInt64, item: Item)] = []
    private var arrivals: UInt64 = 0

    public init() {}

    public var count: Int { items.count }
    public var isEmpty: Bool { items.isEmpty }

    public mutating func push(_ item: Item, priority: SynthesisPriority) {
        arrivals += 1
        items.append((priority, arrivals, item))
    }

    /// The next job: the highest priority, the oldest among equals.
    public mutating func pop() -> Item? {
        guard let next = items.indices.max(by: { a, b in
            items[a].priority < items[b].priority || (items[a].priority == items[b].priority && items[a].arrival > items[b].arrival)
        }) else { return nil }
        return items.remove(at: next).item
    }
}
