@testable import AnswerNinjaServices
import Testing

@Suite struct OpenFileLimitTests {
    /// Each call holds two RTP sockets: the process takes all the descriptors its hard limit allows.
    @Test func theSoftLimitIsRaisedToTheHardOne() throws {
        let limits = try #require(RoleRunner.raiseOpenFileLimit())
        #expect(limits.soft == limits.hard)
    }
}
