/// The media session API: what the gateway (or any in-process owner) asks of the media engine for one call leg.
/// Implemented in-process by the media role and, across processes, by a client of the media-control protocol
/// (`MediaControlMessage`), which maps each method onto one command with the same meaning.
///
/// SDP goes in and comes out as text: the media side parses the peer's SDP, allocates ports, and writes addresses,
/// ports, codecs and `a=crypto` itself. Every method is idempotent for the same `requestId`.
public protocol MediaSessionProvider: Sendable {
    /// Creates the session for a call leg (or returns the existing one for a repeated request) and returns our SDP:
    /// the answer for `terminate`, the offer towards the other leg for `relay`.
    func offer(_ offer: MediaControlMessage.Offer) async throws -> MediaSessionDescription
    /// The other leg's answer on a relayed call; returns the SDP answer for the first leg.
    func answer(_ answer: MediaControlMessage.Answer) async throws -> MediaSessionDescription
    /// A re-offer in an existing dialog (hold, resume, codec change); ports do not move.
    func update(_ offer: MediaControlMessage.Offer) async throws -> MediaSessionDescription
    func play(_ request: MediaControlMessage.Play) async throws
    func stopPlayback(_ request: MediaControlMessage.StopPlayback) async throws
    func record(_ request: MediaControlMessage.Record) async throws
    func bridge(_ request: MediaControlMessage.Bridge) async throws
    func startConversation(_ request: MediaControlMessage.StartConversation) async throws
    /// Digits signalled outside the RTP (SIP INFO), for the leg's assistant.
    func digits(_ request: MediaControlMessage.Digits) async throws
    /// Releases the session; releasing an unknown or released session is not an error.
    func release(_ request: MediaControlMessage.Delete) async throws
    func statistics(_ request: MediaControlMessage.Query) async throws -> MediaStatistics
    /// Every session's events, tagged with their call.
    var events: AsyncStream<MediaControlMessage.Event> { get }
}

/// The SDP a media session produced, with what it decided.
public struct MediaSessionDescription: Sendable, Equatable {
    public var sdp: String
    public init(sdp: String) { self.sdp = sdp }
}
