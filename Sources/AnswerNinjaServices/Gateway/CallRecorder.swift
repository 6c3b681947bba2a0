import AnswerNinjaCore
import Foundation
import Logging
import Screening
import Store

/// Carries the gateway's call state changes to the journal, in order, off the SIP path: the agent hands a change
/// over without waiting (a yield into a stream), and one writer appends them (each made durable by the journal's
/// fsync, shared by the changes that arrive together). SIP never waits on the database, nor on the disk; what a
/// crash can lose is the changes not yet appended, a few milliseconds' worth.
///
/// The user a call belongs to is found by the dialled number here, by the writer (a database or cache lookup),
/// not by SIP; when the lookup fails the record is kept without a user and says why.
public final class CallRecorder: Sendable {
    enum Item: Sendable {
        case started(callId: String, startedAt: Int64, caller: String, callee: String, attestation: String?)
        case change(CallEvent.Change, callId: String, startedAt: Int64, at: Int64)
    }

    private let continuation: AsyncStream<Item>.Continuation
    private let writer: Task<Void, Never>

    public init(platform: Platform, logger: Logger) {
        let (stream, continuation) = AsyncStream.makeStream(of: Item.self)
        self.continuation = continuation
        writer = Task {
            // The owner of each call in progress (its recording moves into their folder), and its caller (whose
            // profile learns from the call when it ends).
            var owners: [String: String] = [:]
            var callers: [String: (number: String, attestation: String?, answered: Bool)] = [:]
            for await item in stream {
                do {
                    switch item {
                    case .started(let callId, let startedAt, let caller, let callee, let attestation):
                        let user = await Self.owner(of: callee, platform: platform, logger: logger)
                        owners[callId] = user
                        callers[callId] = (caller, attestation, false)
                        try await platform.journal.record(.started(userId: user, caller: caller, callee: callee), callId: callId, startedAt: startedAt, at: startedAt)
                        if user == nil {
                            try await platform.journal.record(.decided(decision: "unowned", reasons: ["user:none_for_\(callee)"]), callId: callId, startedAt: startedAt, at: startedAt)
                        }
                    case .change(var change, let callId, let startedAt, let at):
                        if case .recording(let path) = change, let user = owners[callId] {
                            change = .recording(path: await platform.recordings.adopt(path, userId: user))
                        }
                        if case .answered = change { callers[callId]?.answered = true }
                        try await platform.journal.record(change, callId: callId, startedAt: startedAt, at: at)
                        if change.isTerminal {
                            if let caller = callers[callId] {
                                await Self.learn(from: caller, user: owners[callId] ?? nil, startedAt: startedAt, endedAt: at, platform: platform, logger: logger)
                            }
                            owners[callId] = nil
                            callers[callId] = nil
                        }
                    }
                } catch {
                    logger.error("call change not journaled", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// The user owning `callee` (an E.164 number or an alias), cached for 10 minutes; nil when no one owns it or
    /// the lookup fails (the store is down: the call goes on).
    static func owner(of callee: String, platform: Platform, logger: Logger) async -> String? {
        let key = "owner:\(callee)"
        if let cached = await platform.cache.get(key) { return cached.isEmpty ? nil : cached }
        do {
            let numbers = [callee] + ((try? DialledNumber(userPart: callee)).map { [$0.description] } ?? [])
            for number in numbers {
                if let user = try await platform.users.user(owning: number) {
                    await platform.cache.set(key, user.id, ttl: .seconds(600))
                    return user.id
                }
            }
            await platform.cache.set(key, "", ttl: .seconds(60))
        } catch {
            logger.warning("call owner lookup failed", metadata: ["callee": "\(callee)", "error": "\(error)"])
        }
        return nil
    }

    func started(callId: String, startedAt: Int64, caller: String, callee: String, attestation: String?) {
        continuation.yield(.started(callId: callId, startedAt: startedAt, caller: caller, callee: callee, attestation: attestation))
    }

    /// A finished call teaches the caller's profile (calls, short calls, attestation); a caller without a number
    /// (anonymous) has no profile. A failure is logged: the call record itself is in the journal already.
    static func learn(
        from caller: (number: String, attestation: String?, answered: Bool), user: String?, startedAt: Int64, endedAt: Int64, platform: Platform, logger: Logger
    ) async {
        guard case .number(let number)? = try? DialledNumber(userPart: caller.number) else { return }
        let summary = CallerProfile.CallSummary(
            startedAt: startedAt, durationSeconds: Double(endedAt - startedAt) / 1000, answered: caller.answered, attestation: caller.attestation
        )
        do {
            try await platform.profiles.record(summary, key: platform.callerKey.key(for: number), keyVersion: platform.callerKey.version, userId: user, now: endedAt)
        } catch {
            logger.warning("caller profile not updated", metadata: ["error": "\(error)"])
        }
    }

    func record(_ change: CallEvent.Change, callId: String, startedAt: Int64, at: Int64 = unixMilliseconds()) {
        continuation.yield(.change(change, callId: callId, startedAt: startedAt, at: at))
    }

    /// Waits until everything handed over has been appended (at shutdown, after the calls have ended).
    public func drain() async {
        continuation.finish()
        await writer.value
    }
}
