import AnswerNinjaCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import Screening
import Store

/// Carries the gateway's call state changes to the journal, in order, off the SIP path: the agent hands a change
/// over without waiting (a yield into a stream), and one writer appends them (each made durable by the journal's
/// fsync, shared by the changes that arrive together). The writer waits on nothing but the journal: the call's owner
/// (found by the dialled number, from the cache or the database) and the caller's profile update run in tasks of
/// their own, and the owner reaches the record as a change of its own (`assigned`). SIP never waits on the database,
/// nor on the disk; what a crash can lose is the changes not yet appended (the writer's backlog, normally a few
/// milliseconds' worth).
public final class CallRecorder: Sendable {
    enum Item: Sendable {
        case started(callId: String, startedAt: Int64, caller: String, callee: String, attestation: String?)
        case change(CallEvent.Change, callId: String, startedAt: Int64, at: Int64)
    }

    struct Progress: Sendable {
        var owner: String?
        var caller: String
        var attestation: String?
        var callee = ""
        var answered = false
        /// The AI's turns so far: the transcript file is written from them when the call ends.
        var turns: [CallTurn] = []
    }

    private let continuation: AsyncStream<Item>.Continuation
    private let writer: Task<Void, Never>
    /// Calls in progress: their owner once found (a recording moves into the owner's folder) and their caller.
    private let calls = NIOLockedValueBox<[String: Progress]>([:])

    public init(platform: Platform, logger: Logger) {
        let (stream, continuation) = AsyncStream.makeStream(of: Item.self)
        self.continuation = continuation
        let calls = self.calls
        writer = Task {
            for await item in stream {
                do {
                    switch item {
                    case .started(let callId, let startedAt, let caller, let callee, let attestation):
                        calls.withLockedValue { $0[callId] = Progress(caller: caller, attestation: attestation, callee: callee) }
                        try await platform.journal.record(.started(userId: nil, caller: caller, callee: callee), callId: callId, startedAt: startedAt, at: startedAt)
                        Task {
                            if let user = await Self.owner(of: callee, platform: platform, logger: logger) {
                                calls.withLockedValue { $0[callId]?.owner = user }
                                continuation.yield(.change(.assigned(userId: user), callId: callId, startedAt: startedAt, at: unixMilliseconds()))
                            } else {
                                continuation.yield(.change(.decided(decision: "unowned", reasons: ["user:none_for_\(callee)"]), callId: callId, startedAt: startedAt, at: unixMilliseconds()))
                            }
                        }
                    case .change(var change, let callId, let startedAt, let at):
                        if case .recording(let path) = change, let owner = calls.withLockedValue({ $0[callId]?.owner }) {
                            change = .recording(path: await platform.recordings.adopt(path, userId: owner))
                        }
                        switch change {
                        case .answered: calls.withLockedValue { $0[callId]?.answered = true }
                        case .turn(let turn): calls.withLockedValue { $0[callId]?.turns.append(turn) }
                        default: break
                        }
                        let progress = change.isTerminal ? calls.withLockedValue({ $0.removeValue(forKey: callId) }) : nil
                        if let progress, let path = await Self.writeTranscript(of: progress, callId: callId, startedAt: startedAt, platform: platform, logger: logger) {
                            try await platform.journal.record(.transcript(path: path), callId: callId, startedAt: startedAt, at: at)
                        }
                        try await platform.journal.record(change, callId: callId, startedAt: startedAt, at: at)
                        if let progress {
                            Task { await Self.learn(from: progress, startedAt: startedAt, endedAt: at, platform: platform, logger: logger) }
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

    /// An AI call's transcript, written as a file in its owner's folder when it ends; nil for a call without turns
    /// or owner (its turns are in the record all the same), or when the file cannot be written (logged).
    static func writeTranscript(of progress: Progress, callId: String, startedAt: Int64, platform: Platform, logger: Logger) async -> String? {
        guard let owner = progress.owner, !progress.turns.isEmpty else { return nil }
        let text = CallTranscript.render(callId: callId, caller: progress.caller, callee: progress.callee, startedAt: startedAt, turns: progress.turns)
        do {
            return try await platform.recordings.writeTranscript(text, name: SIPUserAgent.fileName(for: callId), userId: owner)
        } catch {
            logger.error("transcript not written", metadata: ["call_id": "\(callId)", "error": "\(error)"])
            return nil
        }
    }

    func started(callId: String, startedAt: Int64, caller: String, callee: String, attestation: String?) {
        continuation.yield(.started(callId: callId, startedAt: startedAt, caller: caller, callee: callee, attestation: attestation))
    }

    /// A finished call teaches the caller's profile (calls, short calls, attestation); a caller without a number
    /// (anonymous) has no profile. A failure is logged: the call record itself is in the journal already.
    static func learn(from progress: Progress, startedAt: Int64, endedAt: Int64, platform: Platform, logger: Logger) async {
        guard case .number(let number)? = try? DialledNumber(userPart: progress.caller) else { return }
        let summary = CallerProfile.CallSummary(
            startedAt: startedAt, durationSeconds: Double(endedAt - startedAt) / 1000, answered: progress.answered, attestation: progress.attestation
        )
        do {
            try await platform.profiles.record(summary, key: try await platform.profileKey(for: number), keyVersion: platform.callerKey.version, userId: progress.owner, now: endedAt)
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
