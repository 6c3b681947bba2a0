import Foundation
import NIOConcurrencyHelpers
import NIOPosix

/// The local, append-only journal of call state changes: every change is written here and made durable (fsync)
/// before anything else happens to it, and a `JournalReplayer` carries it to the database. SIP never waits on the
/// database; a crash or a database outage loses nothing (docs/store.md).
///
/// Appends from many calls at once share one write and one fsync (group commit): the first append of a burst
/// schedules a flush on the journal's thread, and every append that arrives before it runs rides along.
public final class CallJournal: Sendable {
    public let directory: String
    public let instance: String
    private let thread: NIOThreadPool
    // Touched only on `thread`; released (closing its files and lock) by `close`.
    private nonisolated(unsafe) var openFile: JournalFile?
    private let state: NIOLockedValueBox<State>
    private let appended: AsyncStream<Void>.Continuation
    /// Yields once whenever appends have been made durable (the replayer waits on it).
    public let appends: AsyncStream<Void>

    struct State {
        var pending: [(bytes: [UInt8], event: CallEvent, continuation: CheckedContinuation<CallEvent, any Error>)] = []
        var flushScheduled = false
        /// The last sequence given to each call not yet ended, and its start.
        var open: [String: (sequence: Int, startedAt: Int64)] = [:]
        /// Calls ended lately (the newest `closedLimit`), for changes that arrive after the end.
        var closed: [String: (sequence: Int, startedAt: Int64)] = [:]
        var closedOrder: [String] = []
        static let closedLimit = 10_000
        var appendedEvents = 0

        mutating func rememberClosed(_ callId: String, sequence: Int, startedAt: Int64) {
            closed[callId] = (sequence, startedAt)
            closedOrder.append(callId)
            if closedOrder.count > Self.closedLimit * 2 {
                for old in closedOrder.prefix(closedOrder.count - Self.closedLimit) where closed[old] != nil { closed[old] = nil }
                closedOrder.removeFirst(closedOrder.count - Self.closedLimit)
                closedOrder.removeAll { closed[$0] == nil }
            }
        }

        mutating func forgetClosed(_ callId: String) {
            closed[callId] = nil
        }
        var flushes = 0
    }

    /// Opens (creating) the journal in `directory`, takes its lock, and finds the calls left open by a previous run
    /// (see `interruptLeftovers`).
    public static func open(directory: String, instance: String, segmentLimit: Int = 4 << 20) async throws -> CallJournal {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        do {
            let (box, open) = try await thread.runIfActive { () throws -> (FileBox, [String: (Int, Int64)]) in
                let file = try JournalFile(directory: directory, segmentLimit: segmentLimit)
                var open: [String: (Int, Int64)] = [:]
                var position = JournalPosition(segment: 0, offset: 0)
                while true {
                    let (events, next) = try file.read(from: position, limit: 10_000)
                    for event in events {
                        if event.change.isTerminal { open[event.callId] = nil } else { open[event.callId] = (event.sequence, event.callStartedAt) }
                    }
                    if events.isEmpty || next == position { break }
                    position = next
                }
                return (FileBox(file), open)
            }
            return CallJournal(directory: directory, instance: instance, thread: thread, file: box.file, open: open.mapValues { (sequence: $0.0, startedAt: $0.1) })
        } catch {
            try? await thread.shutdownGracefully()
            throw error
        }
    }

    private init(directory: String, instance: String, thread: NIOThreadPool, file: JournalFile, open: [String: (sequence: Int, startedAt: Int64)]) {
        self.directory = directory
        self.instance = instance
        self.thread = thread
        self.openFile = file
        var state = State()
        state.open = open
        self.state = NIOLockedValueBox(state)
        (appends, appended) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Records `change` of call `callId`: assigns its sequence, writes it durably, and returns the event. A
    /// `started` change opens the call (its sequence is 1); a terminal one closes it.
    @discardableResult
    public func record(_ change: CallEvent.Change, callId: String, startedAt: Int64, at: Int64) async throws -> CallEvent {
        try await withCheckedThrowingContinuation { continuation in
            let schedule: Result<Bool, StoreError> = state.withLockedValue { state in
                let sequence: Int
                if case .started = change {
                    guard state.open[callId] == nil else { return .failure(StoreError(code: .init("journal"), message: "call \(callId) is already open in the journal")) }
                    sequence = 1
                    state.forgetClosed(callId)
                    state.open[callId] = (sequence, startedAt)
                } else if let open = state.open[callId] {
                    sequence = open.sequence + 1
                    if change.isTerminal {
                        state.open[callId] = nil
                        state.rememberClosed(callId, sequence: sequence, startedAt: startedAt)
                    } else {
                        state.open[callId] = (sequence, startedAt)
                    }
                } else if let closed = state.closed[callId] {
                    // A late change of an ended call (its owner, found after a short call ended): numbered on, and the
                    // call stays closed.
                    sequence = closed.sequence + 1
                    state.closed[callId] = (sequence, closed.startedAt)
                } else {
                    return .failure(StoreError(code: .init("journal"), message: "call \(callId) is not open in the journal: a change needs its start first"))
                }
                let event = CallEvent(callId: callId, sequence: sequence, callStartedAt: startedAt, at: at, instance: instance, change: change)
                state.pending.append((Self.line(event), event, continuation))
                state.appendedEvents += 1
                defer { state.flushScheduled = true }
                return .success(!state.flushScheduled)
            }
            switch schedule {
            case .failure(let error): continuation.resume(throwing: error)
            case .success(true): thread.submit { work in self.flush(cancelled: work == .cancelled) }
            case .success(false): break
            }
        }
    }

    /// Appends `interrupted` for every call a previous run left open, so that their records end; returns them.
    @discardableResult
    public func interruptLeftovers(reason: String, at: Int64) async throws -> [CallEvent] {
        let leftovers = state.withLockedValue { $0.open }
        var events: [CallEvent] = []
        for (callId, open) in leftovers.sorted(by: { $0.key < $1.key }) {
            events.append(try await record(.interrupted(reason: reason), callId: callId, startedAt: open.startedAt, at: at))
        }
        return events
    }

    /// The calls open in the journal now.
    public var openCalls: [String] { state.withLockedValue { Array($0.open.keys).sorted() } }

    public var statistics: (appended: Int, flushes: Int) { state.withLockedValue { ($0.appendedEvents, $0.flushes) } }

    /// Events after `position`, at most `limit`, and the position after them (on the journal's thread).
    public func read(from position: JournalPosition, limit: Int) async throws -> (events: [CallEvent], next: JournalPosition) {
        try await thread.runIfActive { try self.file.read(from: position, limit: limit) }
    }

    public func checkpoint() async throws -> JournalPosition {
        try await thread.runIfActive { try self.file.loadCheckpoint() }
    }

    /// Records that everything before `position` is in the database; segments wholly before it are deleted.
    public func saveCheckpoint(_ position: JournalPosition) async throws {
        try await thread.runIfActive { try self.file.saveCheckpoint(position) }
    }

    /// Lines skipped as corrupt (a torn tail after a crash, a damaged line).
    public func corruptLines() async throws -> Int {
        try await thread.runIfActive { try self.file.corruptLines }
    }

    /// Flushes nothing (every append is already durable), closes the files and releases the lock.
    public func close() async throws {
        try await thread.runIfActive { self.openFile = nil }
        try await thread.shutdownGracefully()
        appended.finish()
    }

    // MARK: Internals

    /// The open files, on the journal thread.
    private var file: JournalFile {
        get throws(StoreError) {
            guard let openFile else { throw StoreError(code: .init("journal_closed"), message: "the journal is closed") }
            return openFile
        }
    }

    /// On the journal thread: writes every pending line with one fsync and resumes their callers.
    private func flush(cancelled: Bool = false) {
        let batch = state.withLockedValue { state in
            defer {
                state.pending.removeAll(keepingCapacity: true)
                state.flushScheduled = false
                state.flushes += 1
            }
            return state.pending
        }
        guard !batch.isEmpty else { return }
        if cancelled {
            let error = StoreError(code: .init("journal_closed"), message: "the journal is closed")
            for item in batch { item.continuation.resume(throwing: error) }
            return
        }
        do {
            try file.append(batch.flatMap(\.bytes))
            for item in batch { item.continuation.resume(returning: item.event) }
            appended.yield()
        } catch {
            for item in batch { item.continuation.resume(throwing: error) }
        }
    }

    static func line(_ event: CallEvent) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var bytes = Array((try? encoder.encode(event)) ?? Data())
        bytes.append(0x0A)
        return bytes
    }

    private struct FileBox: @unchecked Sendable {
        let file: JournalFile
        init(_ file: JournalFile) { self.file = file }
    }
}
