import AnswerNinjaCore
import MediaTransport
import NIOCore

extension MediaThreads {
    /// The media loops of a role that carries calls' RTP (the gateway, the media role), as `media.threads` and
    /// `media.realtime_priority` say, above the speech threads when the system allows; says in the log how they run.
    static func start(for context: ServiceContext) async -> MediaThreads {
        let configuration = context.configuration.media
        let threads = await MediaThreads.start(
            threads: configuration.threads > 0 ? configuration.threads : System.coreCount,
            realtimePriority: configuration.realtimePriority
        )
        if let why = threads.notRaised {
            context.logger.warning("media threads at normal priority", metadata: [
                "threads": "\(threads.threads)", "asked": "SCHED_FIFO \(configuration.realtimePriority)", "why": "\(why)",
            ])
        } else {
            context.logger.info("media threads", metadata: [
                "threads": "\(threads.threads)", "policy": "\(threads.realtimePriority > 0 ? "SCHED_FIFO \(threads.realtimePriority)" : "normal")",
            ])
        }
        return threads
    }
}

extension RTPPortPool {
    /// The calls' RTP ports as `media.rtp_port_*` say (spread over the range, each released port quarantined).
    static func forCalls(_ media: NinjaConfiguration.Media) -> RTPPortPool {
        RTPPortPool(range: media.rtpPorts, quarantine: media.rtpPortQuarantine, spread: true)
    }
}
