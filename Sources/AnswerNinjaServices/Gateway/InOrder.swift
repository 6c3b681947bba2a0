/// Work per key (a call) that runs in the order it was asked: each piece starts once the one before it has ended.
struct InOrder<Key: Hashable & Sendable>: Sendable {
    private var last: [Key: Task<Void, Never>] = [:]

    mutating func run(_ key: Key, _ body: @escaping @Sendable () async -> Void) {
        let previous = last[key]
        last[key] = Task {
            await previous?.value
            await body()
        }
    }

    /// The key's work is no longer awaited by anything new (the call ended).
    mutating func forget(_ key: Key) { last[key] = nil }
}
