/// One key press reported once, whether it arrived as RFC 4733 events, as in-band tones, or both (a trunk that
/// sends both, or a gateway that converts without muting the audio): a key of the same digit starting within
/// `window` of one already reported is the same press.
public struct DTMFDeduplicator: Sendable {
    public enum Source: Sendable, Equatable { case rfc4733, inBand }

    public struct Press: Sendable, Equatable {
        public var digit: Character
        /// Milliseconds since the start of the call.
        public var startMilliseconds: Int
        public var source: Source
        public init(digit: Character, startMilliseconds: Int, source: Source) {
            self.digit = digit
            self.startMilliseconds = startMilliseconds
            self.source = source
        }
    }

    public let windowMilliseconds: Int
    private var recent: [Press] = []

    public init(windowMilliseconds: Int = 200) {
        self.windowMilliseconds = windowMilliseconds
    }

    /// Returns the press when it is new, nil when it repeats one already reported.
    public mutating func report(_ press: Press) -> Press? {
        recent.removeAll { press.startMilliseconds - $0.startMilliseconds > 5 * windowMilliseconds }
        if recent.contains(where: { $0.digit == press.digit && abs($0.startMilliseconds - press.startMilliseconds) <= windowMilliseconds }) {
            return nil
        }
        recent.append(press)
        return press
    }
}
