import Foundation
import Logging
import NIOConcurrencyHelpers

/// Carries the journal to the database: reads events after the checkpoint, applies them with `CallRecordStore`
/// (idempotent by call and sequence), then moves the checkpoint. While the database is down it retries with backoff
/// and the journal keeps everything; when it comes back the replayer catches up.
public final class JournalReplayer: Sendable {
    public let journal: CallJournal
    public let records: CallRecordStore
    private let logger: Logger
    private let batchSize: Int
    private let statisticsBox = NIOLockedValueBox(Statistics())

    public struct Statistics: Sendable, Equatable {
        public var applied = 0
        public var batches = 0
        public var failures = 0
        public var lastError: String?
        /// Events read but not yet in the database when the last attempt failed.
        public var waiting = 0
    }

    public init(journal: CallJournal, records: CallRecordStore, batchSize: Int = 500, logger: Logger = Logger(label: "answer-ninja.journal")) {
        self.journal = journal
        self.records = records
        self.batchSize = batchSize
        self.logger = logger
    }

    public var statistics: Statistics { statisticsBox.withLockedValue { $0 } }

    /// Applies everything in the journal now; throws the database's error if it cannot.
    @discardableResult
    public func catchUp() async throws -> Int {
        var total = 0
        var position = try await journal.checkpoint()
        while true {
            let (events, next) = try await journal.read(from: position, limit: batchSize)
            if next == position { break }
            do {
                if !events.isEmpty { try await records.apply(events) }
            } catch {
                statisticsBox.withLockedValue {
                    $0.failures += 1
                    $0.lastError = "\(error)"
                    $0.waiting = events.count
                }
                throw error
            }
            try await journal.saveCheckpoint(next)
            statisticsBox.withLockedValue {
                $0.applied += events.count
                $0.batches += 1
                $0.waiting = 0
            }
            total += events.count
            position = next
        }
        return total
    }

    /// Runs until cancelled: catches up at once and whenever the journal has new events; after a failure waits
    /// (100 ms, doubling to 5 s) and tries again until it succeeds.
    public func run() async {
        await catchUpRetrying()
        for await _ in journal.appends {
            await catchUpRetrying()
        }
    }

    private func catchUpRetrying() async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                try await catchUp()
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("journal replay failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
