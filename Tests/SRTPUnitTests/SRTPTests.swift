import Foundation
import NIOCore
import SRTP
import Testing

enum Reference {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = root.appendingPathComponent(".venv/bin/python").path
    static let script = root.appendingPathComponent("Tests/reference/srtp_reference.py").path

    /// Runs the Python reference (made by tools/setup's venv, with the `cryptography` package).
    static func run(_ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: Data) {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ReferenceError(message: "\(python) is missing: run tools/setup")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + arguments
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    struct ReferenceError: Error { var message: String }
}

func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}

func hexString(_ buffer: ByteBuffer) -> String {
    buffer.readableBytesView.map { String(format: "%02x", $0) }.joined()
}

@Suite struct SRTPReferenceTests {
    @Test func theReferenceMatchesRFC3711AppendixBAndRFC7714() throws {
        let (status, output) = try Reference.run(["--self-test"])
        #expect(status == 0, "\(String(decoding: output, as: UTF8.self))")
        #expect(String(decoding: output, as: UTF8.self).components(separatedBy: "\nok").count == 14)
    }

    @Test(arguments: SRTPImplementation.allCases)
    func bothProduceLibsrtpsPublishedReferencePackets(implementation: SRTPImplementation) throws {
        let plain = hex("800f1234decafbadcafebabe" + String(repeating: "ab", count: 16))
        let cases: [(SRTPCryptoSuite, String, String)] = [
            (.aesCM128HMACSHA1_80, "e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6",
             "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb"),
            (.aeadAES128GCM, "000102030405060708090a0b0c0d0e0fa0a1a2a3a4a5a6a7a8a9aaab",
             "800f1234decafbadcafebabec5002ede04cfdd2eb91159e0880aa06ed2976826f796b201df3131a127e8a392"),
        ]
        for (suite, key, expected) in cases {
            let session = try implementation.make(suite: suite, material: SRTPKeyMaterial(bytes: hex(key)), direction: .outbound)
            var buffer = ByteBuffer(bytes: plain)
            try session.protect(&buffer)
            #expect(hexString(buffer) == expected, "\(implementation) \(suite)")
        }
    }

    /// Packets across a sequence-number wrap (the rollover counter goes to 1), one with CSRCs and a header
    /// extension, and RTCP compounds: libsrtp and the reference agree byte for byte, for every suite.
    @Test(arguments: SRTPCryptoSuite.allCases, SRTPImplementation.allCases)
    func bothImplementationsAgreeWithTheIndependentReference(suite: SRTPCryptoSuite, implementation: SRTPImplementation) throws {
        let material = (0..<suite.keyMaterialLength).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ 7) }
        var rtp: [[UInt8]] = []
        let sequences: [UInt16] = Array(65530...65535) + [0, 1, 2, 3]
        for (index, sequence) in sequences.enumerated() {
            var header = ByteBuffer()
            header.writeMultipleIntegers(UInt8(index == 3 ? 0x92 : 0x80), UInt8(0), sequence, UInt32(index) * 160, UInt32(0xCAFE_BABE))
            if index == 3 { header.writeBytes([0, 0, 0, 1, 0, 0, 0, 2, 0xBE, 0xDE, 0, 1, 0x10, 0x55, 0, 0]) }  // 2 CSRCs, one-byte extension
            var packet = Array(header.readableBytesView)
            packet += (0..<(160 + index)).map { UInt8(truncatingIfNeeded: $0 ^ index) }
            rtp.append(packet)
        }
        let receiverReport = hex("80c90001cafebabe")
        let sdes = hex("81ca0003cafebabe01046e696e6a0000")
        let rtcp: [[UInt8]] = [receiverReport, receiverReport + sdes, receiverReport + sdes]
        let request: [String: Any] = [
            "suite": suite.rawValue, "key": material.map { String(format: "%02x", $0) }.joined(),
            "rtp": rtp.map { $0.map { String(format: "%02x", $0) }.joined() }, "rtcp": rtcp.map { $0.map { String(format: "%02x", $0) }.joined() },
        ]
        let (status, output) = try Reference.run([], input: try JSONSerialization.data(withJSONObject: request))
        #expect(status == 0, "\(String(decoding: output, as: UTF8.self))")
        let reference = try #require(try JSONSerialization.jsonObject(with: output) as? [String: [String]])

        let sender = try implementation.make(suite: suite, material: SRTPKeyMaterial(bytes: material), direction: .outbound)
        let receiver = try implementation.make(suite: suite, material: SRTPKeyMaterial(bytes: material), direction: .inbound)
        for (index, packet) in rtp.enumerated() {
            var buffer = ByteBuffer(bytes: packet)
            try sender.protect(&buffer)
            #expect(hexString(buffer) == reference["rtp"]?[index], "\(implementation) \(suite) RTP packet \(index)")
            #expect(buffer.readableBytes == packet.count + suite.rtpOverhead)
            try receiver.unprotect(&buffer)
            #expect(Array(buffer.readableBytesView) == packet)
        }
        #expect(sender.rolloverCounter(ssrc: 0xCAFE_BABE) == 1)
        for (index, packet) in rtcp.enumerated() {
            var buffer = ByteBuffer(bytes: packet)
            try sender.protectRTCP(&buffer)
            #expect(hexString(buffer) == reference["rtcp"]?[index], "\(implementation) \(suite) RTCP packet \(index)")
            #expect(buffer.readableBytes == packet.count + suite.rtcpOverhead)
            try receiver.unprotectRTCP(&buffer)
            #expect(Array(buffer.readableBytesView) == packet)
        }
    }
}

@Suite struct SRTPSessionTests {
    func packet(_ sequence: UInt16, payload: UInt8 = 0xAB) -> ByteBuffer {
        var buffer = ByteBuffer(bytes: [0x80, 0x00])
        buffer.writeMultipleIntegers(sequence, UInt32(sequence) * 160, UInt32(0x1234_5678))
        buffer.writeRepeatingByte(payload, count: 160)
        return buffer
    }

    func pair(_ suite: SRTPCryptoSuite, _ implementation: SRTPImplementation = .libsrtp) throws -> (any SRTPTransform, any SRTPTransform) {
        let material = SRTPKeyMaterial.random(for: suite)
        return (try implementation.make(suite: suite, material: material, direction: .outbound), try implementation.make(suite: suite, material: material, direction: .inbound))
    }

    @Test(arguments: SRTPCryptoSuite.allCases, SRTPImplementation.allCases)
    func tamperingFailsAuthentication(suite: SRTPCryptoSuite, implementation: SRTPImplementation) throws {
        let (sender, receiver) = try pair(suite, implementation)
        var buffer = packet(1)
        try sender.protect(&buffer)
        let last = buffer.writerIndex - 1
        buffer.setInteger(buffer.getInteger(at: last, as: UInt8.self)! ^ 1, at: last)
        #expect { try receiver.unprotect(&buffer) } throws: { ($0 as? SRTPError)?.code == .authenticationFailed }
        var wrongKey = packet(2)
        try implementation.make(suite: suite, material: .random(for: suite), direction: .outbound).protect(&wrongKey)
        #expect { try receiver.unprotect(&wrongKey) } throws: { ($0 as? SRTPError)?.code == .authenticationFailed }
    }

    @Test(arguments: SRTPImplementation.allCases)
    func replaysAreRefusedAndTheWindowHoldsAtLeast128(implementation: SRTPImplementation) throws {
        let (sender, receiver) = try pair(.aesCM128HMACSHA1_80, implementation)
        var protected: [UInt16: ByteBuffer] = [:]
        for sequence in UInt16(0)..<1200 {
            var buffer = packet(sequence)
            try sender.protect(&buffer)
            protected[sequence] = buffer
        }
        for sequence in UInt16(0)..<1200 where sequence != 50 && sequence != 1099 {
            var buffer = protected[sequence]!
            try receiver.unprotect(&buffer)
        }
        var again = protected[1199]!
        #expect { try receiver.unprotect(&again) } throws: { ($0 as? SRTPError)?.code == .replay }
        // 100 behind the newest: inside the window (128 native, 1024 libsrtp), not seen yet → accepted.
        var late = protected[1099]!
        try receiver.unprotect(&late)
        // 1149 behind: older than the window → refused as a replay.
        var tooOld = protected[50]!
        #expect { try receiver.unprotect(&tooOld) } throws: { ($0 as? SRTPError)?.code == .replay }
    }

    @Test func keyMaterialIsCheckedFreshAndNeverPrinted() throws {
        let first = SRTPKeyMaterial.random(for: .aeadAES128GCM)
        let second = SRTPKeyMaterial.random(for: .aeadAES128GCM)
        #expect(first.count == 28 && !first.isEqual(to: second) && first.isEqual(to: first))
        #expect(first.description == "SRTPKeyMaterial(28 bytes)")
        #expect(!"\(first)".contains(first.base64))
        #expect { try SRTPSession(suite: .aesCM128HMACSHA1_80, material: first, direction: .inbound) } throws: {
            ($0 as? SRTPError)?.code == .badParameters
        }
    }

    @Test(arguments: SRTPCryptoSuite.allCases, SRTPImplementation.allCases)
    func theTwoImplementationsInteroperate(suite: SRTPCryptoSuite, implementation: SRTPImplementation) throws {
        // One side libsrtp, the other native, both ways, across a rollover, RTP and RTCP.
        let other: SRTPImplementation = implementation == .native ? .libsrtp : .native
        let material = SRTPKeyMaterial.random(for: suite)
        let sender = try implementation.make(suite: suite, material: material, direction: .outbound)
        let receiver = try other.make(suite: suite, material: material, direction: .inbound)
        for step in 0..<40 {
            let sequence = UInt16(truncatingIfNeeded: 65_520 + step)
            var buffer = packet(sequence, payload: UInt8(step))
            let original = buffer
            try sender.protect(&buffer)
            try receiver.unprotect(&buffer)
            #expect(buffer == original, "\(implementation) → \(other) \(suite) packet \(step)")
            var report = ByteBuffer(bytes: hex("80c90001cafebabe") + [UInt8](repeating: UInt8(step), count: 8))
            let reportOriginal = report
            try sender.protectRTCP(&report)
            try receiver.unprotectRTCP(&report)
            #expect(report == reportOriginal)
        }
        #expect(receiver.rolloverCounter(ssrc: 0x1234_5678) == 1)
    }

    @Test func protectingReusesTheBufferWhenItHasTrailerRoom() throws {
        let (sender, _) = try pair(.aeadAES128GCM)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(172 + SRTPSession.trailerRoom)
        buffer.writeImmutableBuffer(packet(9))
        let capacity = buffer.capacity
        try sender.protect(&buffer)
        #expect(buffer.capacity == capacity)
    }
}

@Suite struct SDESCryptoAttributeTests {
    @Test func parsesRFC4568Examples() throws {
        let attribute = try SDESCryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32 KDR=1 UNENCRYPTED_SRTCP")
        #expect(attribute.tag == 1 && attribute.suite == .aesCM128HMACSHA1_80)
        #expect(attribute.keys.count == 1 && attribute.keys[0].material.count == 30)
        #expect(attribute.keys[0].lifetime == 1 << 20)
        #expect(attribute.keys[0].mki?.value == 1 && attribute.keys[0].mki?.length == 32)
        #expect(attribute.sessionParameters == ["KDR=1", "UNENCRYPTED_SRTCP"])
        #expect(attribute.sdpValue == "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32 KDR=1 UNENCRYPTED_SRTCP")
        #expect(!attribute.description.contains("PS1uQCVe"))
        let two = try SDESCryptoAttribute(parsing: "2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1048576;inline:YTdjNmRkZWMzODY5ZWNkOTIzMGMzMjgxZWY0NjNl|2^31")
        #expect(two.keys.count == 2 && two.keys[0].lifetime == 1_048_576 && two.keys[1].lifetime == 1 << 31)
    }

    @Test func aGCMKeyIs28Bytes() throws {
        let material = SRTPKeyMaterial.random(for: .aeadAES128GCM)
        let attribute = SDESCryptoAttribute(tag: 3, suite: .aeadAES128GCM, material: material)
        let parsed = try SDESCryptoAttribute(parsing: Substring(attribute.sdpValue))
        #expect(parsed.keys[0].material.isEqual(to: material))
    }

    @Test(arguments: [
        "1 AES_CM_128_HMAC_SHA1_80",
        "x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0m",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhc*D0mXXtxaVBR",
        "1 AES_CM_128_HMAC_SHA1_80 uri:https://keys.example/1",
        "1 AEAD_AES_128_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^x",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:999",
    ])
    func refusesWhatRFC4568DoesNotAllow(value: String) {
        #expect { try SDESCryptoAttribute(parsing: Substring(value)) } throws: { error in
            guard let error = error as? SRTPError else { return false }
            return error.code == .badCryptoAttribute && !error.message.contains("PS1uQCVe")
        }
    }
}
