import AnswerNinjaCore

/// A hashed timing wheel (Varghese and Lauck): the timer facility for SIP transactions, which holds every live
/// transaction's timers (100,000 and more) at O(1) per schedule, cancel and tick. Time is given, never read:
/// `advance(to:)` fires what is due.
///
/// Deadlines are rounded up to the tick (a timer never fires early); entries live in a slab whose freed slots are
/// reused, so a steady load allocates nothing. A handle carries a generation, so cancelling a fired or already
/// cancelled timer is a harmless no-op.
public struct TimerWheel<Element: Sendable>: Sendable {
    public struct Handle: Hashable, Sendable {
        fileprivate let index: Int
        fileprivate let generation: UInt32
    }

    private struct Entry {
        var element: Element?
        var deadlineTick: UInt64
        var generation: UInt32
        var next: Int  // the next entry in the same slot, or -1
        var previous: Int
    }

    public let tick: Duration
    private let tickNanoseconds: UInt64
    private var slots: [Int]  // head entry of each slot, or -1
    private var entries: [Entry] = []
    private var free: [Int] = []
    private var currentTick: UInt64
    public private(set) var count = 0

    /// `tick`: the resolution (10 ms suits SIP, whose shortest timer is T1 = 500 ms). `slots`: a power of two; one
    /// turn of the wheel is `slots × tick`, longer timers wait for their turn in their slot.
    public init(tick: Duration = .milliseconds(10), slots: Int = 4096, now: MediaInstant) {
        precondition(slots > 0 && slots & (slots - 1) == 0, "slots must be a power of two")
        self.tick = tick
        tickNanoseconds = UInt64(max(1, tick.nanosecondsClamped))
        self.slots = [Int](repeating: -1, count: slots)
        currentTick = now.nanoseconds / tickNanoseconds
    }

    /// Schedules `element` to fire at `deadline` (or at the next tick if that has passed).
    @discardableResult
    public mutating func schedule(_ element: Element, at deadline: MediaInstant) -> Handle {
        let deadlineTick = max(currentTick + 1, (deadline.nanoseconds + tickNanoseconds - 1) / tickNanoseconds)
        let index: Int
        if let reused = free.popLast() {
            index = reused
            entries[index].element = element
            entries[index].deadlineTick = deadlineTick
            entries[index].generation &+= 1
        } else {
            index = entries.count
            entries.append(Entry(element: element, deadlineTick: deadlineTick, generation: 0, next: -1, previous: -1))
        }
        let slot = Int(deadlineTick & UInt64(slots.count - 1))
        entries[index].next = slots[slot]
        entries[index].previous = -1
        if slots[slot] >= 0 { entries[slots[slot]].previous = index }
        slots[slot] = index
        count += 1
        return Handle(index: index, generation: entries[index].generation)
    }

    /// Cancels a timer; returns its element if it was still pending.
    @discardableResult
    public mutating func cancel(_ handle: Handle) -> Element? {
        guard handle.index < entries.count, entries[handle.index].generation == handle.generation, let element = entries[handle.index].element else { return nil }
        unlink(handle.index)
        return element
    }

    /// Fires every timer due at or before `now`, tick by tick (timers of one tick in no particular order).
    public mutating func advance(to now: MediaInstant, _ fire: (Element) -> Void) {
        let target = now.nanoseconds / tickNanoseconds
        // After a long pause, one turn of the wheel visits every slot once.
        let last = target > currentTick + UInt64(slots.count) ? currentTick + UInt64(slots.count) : target
        var visitTick = currentTick + 1
        while visitTick <= last {
            let slot = Int(visitTick & UInt64(slots.count - 1))
            var index = slots[slot]
            while index >= 0 {
                let next = entries[index].next
                if entries[index].deadlineTick <= target, let element = entries[index].element {
                    unlink(index)
                    fire(element)
                }
                index = next
            }
            visitTick += 1
        }
        currentTick = max(currentTick, target)
    }

    private mutating func unlink(_ index: Int) {
        let slot = Int(entries[index].deadlineTick & UInt64(slots.count - 1))
        let next = entries[index].next, previous = entries[index].previous
        if previous >= 0 { entries[previous].next = next } else { slots[slot] = next }
        if next >= 0 { entries[next].previous = previous }
        entries[index].element = nil
        entries[index].next = -1
        entries[index].previous = -1
        free.append(index)
        count -= 1
    }
}
