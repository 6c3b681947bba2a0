import AnswerNinjaCore
import Conversation
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
        case started(callId: String, startedAt: Int64, caller: String, callee: String, attestation: String?, userId: String?)
        case change(CallEvent.Change, callId: String, startedAt: Int64, at: Int64)
        /// The user talked with the caller for `seconds` (a bridged call), before its end.
        case accepted(callId: String, seconds: Double)
    }

    struct Progress: Sendable {
        var owner: String?
        var caller: String
        var attestation: String?
        var callee = ""
        var answered = false
        /// The AI's turns so far: the transcript file is written from them when the call ends.
        var turns: [CallTurn] = []
        /// How long the user talked with the caller, when the call was bridged to them.
        var acceptedSeconds: Double?
        /// For the webhook's summary.
        var decision: String?
        var reasons: [String] = []
        var intent: (name: String, confidence: Double)?
    }

    /// A bridged call this long teaches the user's whitelist: the caller is someone the user talks to.
    let learnAfter: Duration

    private let continuation: AsyncStream<Item>.Continuation
    private let writer: Task<Void, Never>
    /// Calls in progress: their owner once found (a recording moves into the owner's folder) and their caller.
    private let calls = NIOLockedValueBox<[String: Progress]>([:])

    /// Calls users' webhooks when their calls end; nil: none are called.
    let webhooks: WebhookNotifier?

    init(platform: Platform, logger: Logger, learnAfter: Duration = .seconds(30), webhooks: WebhookNotifier? = nil) {
        self.learnAfter = learnAfter
        self.webhooks = webhooks
        let (stream, continuation) = AsyncStream.makeStream(of: Item.self)
        self.continuation = continuation
        let calls = self.calls
        writer = Task {
            for await item in stream {
                do {
                    switch item {
                    case .started(let callId, let startedAt, let caller, let callee, let attestation, let userId):
                        calls.withLockedValue { $0[callId] = Progress(owner: userId, caller: caller, attestation: attestation, callee: callee) }
                        try await platform.journal.record(.started(userId: userId, caller: caller, callee: callee), callId: callId, startedAt: startedAt, at: startedAt)
                        // The screener found the owner already; otherwise (the store did not answer in time) it is
                        // looked up now, off the journal's path.
                        if userId == nil {
                            Task {
                                if let user = await Self.owner(of: callee, platform: platform, logger: logger) {
                                    calls.withLockedValue { $0[callId]?.owner = user }
                                    continuation.yield(.change(.assigned(userId: user), callId: callId, startedAt: startedAt, at: unixMilliseconds()))
                                } else {
                                    continuation.yield(.change(.decided(decision: "unowned", reasons: ["user:none_for_\(callee)"]), callId: callId, startedAt: startedAt, at: unixMilliseconds()))
                                }
                            }
                        }
                    case .accepted(let callId, let seconds):
                        calls.withLockedValue { $0[callId]?.acceptedSeconds = seconds }
                    case .change(var change, let callId, let startedAt, let at):
                        if case .recording(let path) = change, let owner = calls.withLockedValue({ $0[callId]?.owner }) {
                            change = .recording(path: await platform.recordings.adopt(path, userId: owner))
                        }
                        switch change {
                        case .answered: calls.withLockedValue { $0[callId]?.answered = true }
                        case .turn(let turn): calls.withLockedValue { $0[callId]?.turns.append(turn) }
                        case .decided(let decision, let reasons):
                            calls.withLockedValue {
                                $0[callId]?.decision = decision
                                $0[callId]?.reasons = reasons
                            }
                        case .intent(let name, let confidence): calls.withLockedValue { $0[callId]?.intent = (name, confidence) }
                        default: break
                        }
                        let progress = change.isTerminal ? calls.withLockedValue({ $0.removeValue(forKey: callId) }) : nil
                        if let progress, let path = await Self.writeTranscript(of: progress, callId: callId, startedAt: startedAt, platform: platform, logger: logger) {
                            try await platform.journal.record(.transcript(path: path), callId: callId, startedAt: startedAt, at: at)
                        }
                        try await platform.journal.record(change, callId: callId, startedAt: startedAt, at: at)
                        if let progress {
                            Task {
                                await Self.learn(from: progress, startedAt: startedAt, endedAt: at, learnAfter: learnAfter, platform: platform, logger: logger)
                                if let webhooks { await Self.notify(progress, callId: callId, startedAt: startedAt, end: change, at: at, webhooks: webhooks, platform: platform, logger: logger) }
                            }
                        }
                    }
                } catch {
                    logger.error("call change not journaled", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// The user owning `callee`, through the screener's cache; nil when no one owns it or the lookup fails (the
    /// store is down: the call goes on).
    static func owner(of callee: String, platform: Platform, logger: Logger) async -> String? {
        do {
            return try await CallScreener.owner(of: callee, platform: platform)
        } catch {
            logger.warning("call owner lookup failed", metadata: ["callee": "\(callee)", "error": "\(error)"])
            return nil
        }
    }

    /// An AI call's transcript, written as a file in its owner's folder when it ends; nil for a call without turns
    /// or owner (its turns are in the record all the same), or when the file cannot be written (logged).
    static func writeTranscript(of progress: Progress, callId: String, startedAt: Int64, platform: Platform, logger: Logger) async -> String? {
        guard let owner = progress.owner, !progress.turns.isEmpty else { return nil }
        let text = CallTranscript.render(callId: callId, caller: progress.caller, callee: progress.callee, startedAt: startedAt, turns: progress.turns)
        do {
            return try await platform.recordings.writeTranscript(text, name: SIPUserAgent.uniqueFileName(for: callId), userId: owner)
        } catch {
            logger.error("transcript not written", metadata: ["call_id": "\(callId)", "error": "\(error)"])
            return nil
        }
    }

    /// The owner's webhook, if they set one, with the call's summary (the notifier retries on its own time).
    static func notify(
        _ progress: Progress, callId: String, startedAt: Int64, end: CallEvent.Change, at: Int64, webhooks: WebhookNotifier, platform: Platform, logger: Logger
    ) async {
        guard let owner = progress.owner,
            let url = UserSettings(stored: (try? await CallScreener(platform: platform, logger: logger).settings(of: owner))?.settings ?? "{}").webhookURL
        else { return }
        var outcome = "interrupted", reason = ""
        if case .ended(let ended, let why) = end { (outcome, reason) = (ended, why) }
        if case .interrupted(let why) = end { reason = why }
        let summary = WebhookNotifier.Summary(
            callId: callId, caller: progress.caller, callee: progress.callee, decision: progress.decision, reasons: progress.reasons, outcome: outcome,
            endReason: reason, intent: progress.intent?.name, intentConfidence: progress.intent?.confidence, startedAt: startedAt, endedAt: at,
            turns: progress.turns.map { .init(callerText: $0.callerText, replyText: $0.replyText) },
            message: Self.message(of: progress)
        )
        await webhooks.deliver(summary, to: url, userId: owner)
    }

    /// What the caller said, when the call's intent is one the user wants or a recorded message.
    static func message(of progress: Progress) -> String? {
        guard let intent = progress.intent.flatMap({ Intent(rawValue: $0.name) }), intent.isWanted || intent.isRecording else { return nil }
        let said = progress.turns.map(\.callerText).filter { !$0.isEmpty }.joined(separator: " ")
        return said.isEmpty ? nil : said
    }

    func started(callId: String, startedAt: Int64, caller: String, callee: String, attestation: String?, userId: String? = nil) {
        continuation.yield(.started(callId: callId, startedAt: startedAt, caller: caller, callee: callee, attestation: attestation, userId: userId))
    }

    /// A finished call teaches the caller's profile (calls, short calls, attestation), and a bridged call the user
    /// talked in for `learnAfterSeconds` teaches their whitelist (a learned entry, with its reason); a caller without
    /// a number (anonymous) has neither. A failure is logged: the call record itself is in the journal already.
    static func learn(from progress: Progress, startedAt: Int64, endedAt: Int64, learnAfter: Duration, platform: Platform, logger: Logger) async {
        guard case .number(let number)? = try? DialledNumber(userPart: progress.caller) else { return }
        let summary = CallerProfile.CallSummary(
            startedAt: startedAt, durationSeconds: Double(endedAt - startedAt) / 1000, answered: progress.answered, attestation: progress.attestation
        )
        if let seconds = progress.acceptedSeconds, seconds * 1000 >= learnAfter.milliseconds, let owner = progress.owner {
            let reason = "call accepted \(Date(timeIntervalSince1970: Double(startedAt) / 1000).ISO8601Format()), talked \(Int(seconds)) s"
            await teach(number, userId: owner, reason: reason, now: endedAt, platform: platform, logger: logger)
        }
        do {
            let key = try await platform.profileKey(for: number)
            try await platform.profiles.record(summary, key: key, keyVersion: platform.callerKey.version, userId: progress.owner, now: endedAt)
            // The next call of this caller is screened with the score this call left.
            await platform.cache.delete("profile:\(key)")
        } catch {
            logger.warning("caller profile not updated", metadata: ["error": "\(error)"])
        }
    }

    /// Puts `number` on the user's whitelist as a learned entry with `reason` (unless the user has an entry for it),
    /// and drops the user's cached decisions when it did; a failure is logged.
    static func teach(_ number: E164Number, userId: String, reason: String, now: Int64, platform: Platform, logger: Logger) async {
        do {
            if try await platform.whitelist.learn(number, userId: userId, reason: reason, now: now) {
                await WhitelistCache.invalidate(userId, cache: platform.cache)
                logger.info("whitelist learned", metadata: ["user": "\(userId)", "number": "\(number)", "reason": "\(reason)"])
            }
        } catch {
            logger.warning("whitelist not taught", metadata: ["error": "\(error)"])
        }
    }

    /// The user talked with the caller for `seconds` on a bridge: hand over before the call's end.
    func accepted(callId: String, seconds: Double) {
        continuation.yield(.accepted(callId: callId, seconds: seconds))
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
