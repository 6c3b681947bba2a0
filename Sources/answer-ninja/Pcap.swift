import ArgumentParser

/// `answer-ninja pcap`: tools for capture files.
struct Pcap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read pcap and pcapng captures: RTP streams, their statistics, DTMF and audio.",
        subcommands: [PcapInspect.self]
    )
}
