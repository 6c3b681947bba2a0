import NIOCore

/// What `answer-ninja pcap inspect` reports about a capture file: its format, its frames, and every RTP stream
/// with its statistics and DTMF events.
public struct CaptureInspection: Sendable {
    public var format: CaptureFileParser.Format
    public var frames: Int
    public var udpDatagrams: Int
    public var streams: [RTPStreamAnalyzer.Report]
    let analyzer: RTPStreamAnalyzer

    public init(file: ByteBuffer, payloadTypes: PayloadTypeMap = .standard) throws(CaptureError) {
        let (format, frames) = try CaptureFileParser.parse(file)
        var analyzer = RTPStreamAnalyzer(payloadTypes: payloadTypes)
        var datagrams = 0
        for frame in frames {
            analyzer.noteFrame(at: frame.timestamp)
            guard let datagram = UDPDatagram(frame: frame) else { continue }
            datagrams += 1
            analyzer.add(datagram)
        }
        self.format = format
        self.frames = frames.count
        self.udpDatagrams = datagrams
        self.streams = analyzer.reports()
        self.analyzer = analyzer
    }

    /// The decoded audio of a G.711 stream at 8 kHz, or nil for other encodings.
    public func audio(of stream: RTPStreamAnalyzer.Report) -> WAVFile? {
        analyzer.audio(of: stream).map { WAVFile(sampleRate: 8000, samples: $0) }
    }
}
