import AnswerNinjaCore
import Testing

@Suite struct HexTests {
    @Test func bytesRoundTripThroughHex() throws {
        let bytes: [UInt8] = [0x00, 0x0f, 0xa5, 0xff, 0x10]
        #expect(bytes.hexString == "000fa5ff10")
        #expect(try [UInt8](hex: "000FA5ff10") == bytes)
        #expect([UInt8]().hexString == "")
    }

    @Test(arguments: ["abc", "0g", "zz"])
    func notHexIsAnError(text: String) {
        #expect(throws: CoreError.self) { try [UInt8](hex: text) }
    }
}
