@testable import AnswerNinjaServices
import Foundation
import Testing

/// The gateways behind one edge share the bindings of devices registered through it (docs/kamailio.md). A gateway
/// that starts asks the others, which answer with their copies too: a copy replayed late must not undo what its
/// gateway said since, a device's leaving included.
@Suite struct SharedRegistrationTests {
    static func registration(_ gateway: String, bindings: [SharedBinding], at sentAtMs: Int64?) -> SharedRegistration {
        SharedRegistration(gateway: gateway, aor: "alice", bindings: bindings, sentAtMs: sentAtMs)
    }

    let phone = SharedBinding(contact: "sip:alice@192.0.2.7:5060", path: ["<sip:198.51.100.1;lr;received=sip:192.0.2.7:5060>"], expiresAtMs: 1_000_600_000)
    let now: Int64 = 1_000_000_000

    @Test func theNewestCopyOfAnAddressOfRecordWinsWhicheverGatewaySentIt() {
        let registered = Self.registration("gw-a", bindings: [phone], at: now - 60_000)
        let left = Self.registration("gw-a", bindings: [], at: now - 10_000)
        var holders = registered.merged(into: [:], nowMs: now, retentionMs: 3_600_000)
        #expect(holders["gw-a"]?.bindings == [phone])
        holders = left.merged(into: holders, nowMs: now, retentionMs: 3_600_000)
        #expect(holders["gw-a"]?.bindings == [], "the device left: kept as a marker")
        // The registration again, replayed by another gateway after the leaving: ignored.
        holders = registered.merged(into: holders, nowMs: now, retentionMs: 3_600_000)
        #expect(holders["gw-a"]?.bindings == [])
        // gw-a restarted as gw-b and the device registered there again, by a new Path: that copy is all there is.
        let moved = SharedBinding(contact: phone.contact, path: ["<sip:198.51.100.1;lr;received=sip:192.0.2.99:6000>"], expiresAtMs: phone.expiresAtMs)
        holders = Self.registration("gw-b", bindings: [moved], at: now).merged(into: holders, nowMs: now, retentionMs: 3_600_000)
        #expect(holders.keys.sorted() == ["gw-b"] && holders["gw-b"]?.bindings == [moved])
        // The old gateway's copy, replayed late by a third: ignored.
        holders = registered.merged(into: holders, nowMs: now, retentionMs: 3_600_000)
        #expect(holders.keys.sorted() == ["gw-b"])
    }

    @Test func markersAndExpiredListsGoAfterTheLongestRegistration() {
        let left = Self.registration("gw-a", bindings: [], at: now - 3_700_000)
        let expired = Self.registration("gw-b", bindings: [SharedBinding(contact: "sip:alice@192.0.2.8", path: [], expiresAtMs: now - 1)], at: now - 3_700_000)
        let live = Self.registration("gw-c", bindings: [phone], at: now - 3_700_000)
        let holders = live.merged(into: ["gw-a": left, "gw-b": expired], nowMs: now, retentionMs: 3_600_000)
        #expect(holders.keys.sorted() == ["gw-c"])
        // A gateway of an earlier release sends no time: any timed copy is newer.
        let untimed = Self.registration("gw-c", bindings: [], at: nil)
        #expect(untimed.merged(into: holders, nowMs: now, retentionMs: 3_600_000)["gw-c"]?.bindings == [phone])
    }

    @Test func aReplayComesInBatches() throws {
        let registrations = (0 ..< 450).map { Self.registration("gw-\($0)", bindings: [phone], at: now) }
        let batches = SharedBindingsReplay.batches(of: registrations)
        #expect(batches.map(\.registrations.count) == [200, 200, 50])
        #expect(batches.flatMap(\.registrations) == registrations)
        #expect(SharedBindingsReplay.batches(of: []).isEmpty)
        #expect(SharedRegistration.replayChannel(for: "gw-new") == SharedRegistration.channel + ":gw-new")
    }

    @Test func requestsAndRegistrationsAreToldApartOnTheOneChannel() throws {
        let request = try JSONEncoder().encode(SharedBindingsRequest(requester: "gw-new"))
        #expect((try? JSONDecoder().decode(SharedRegistration.self, from: request)) == nil)
        let registration = try JSONEncoder().encode(Self.registration("gw-a", bindings: [phone], at: now))
        #expect((try? JSONDecoder().decode(SharedBindingsRequest.self, from: registration)) == nil)
        #expect(try JSONDecoder().decode(SharedRegistration.self, from: registration).sentAtMs == now)
    }
}
