#if canImport(Glibc)
import Glibc
#endif
import CCapability
import NIOCore
import NIOPosix

/// The media role's own event loops: every call's RTP socket, 20 ms clock and relay run on them, apart from SIP,
/// HTTP and the cooperative pool. With a real-time priority they run `SCHED_FIFO`, above every normal thread of the
/// machine — so speech recognition and synthesis (on their own threads at normal priority), the store and HTTP can
/// load the cores without delaying a frame — while the speech threads keep their normal share against other
/// processes (a nice value on them starved decodes on a loaded machine). Raising needs `CAP_SYS_NICE`: root, or a
/// non-root process whose binary carries it as a permitted file capability (`setcap cap_sys_nice+p`, as the
/// container image does), with it in the bounding set and, under no_new_privs, already permitted before the exec (a
/// container that adds `SYS_NICE`: runc puts it there). Each loop thread puts it in its effective set for the one
/// call and takes it out again, so no thread acts with it by accident; it stays permitted, so code that took over
/// the process could raise it again. Without it the threads stay as they are, and `MediaThreads` says why.
/// Each tick does microseconds of work, and the kernel's real-time throttling (`sched_rt_runtime_us`) keeps even a
/// runaway loop from taking a core whole.
public struct MediaThreads: Sendable {
    public let group: MultiThreadedEventLoopGroup
    public let threads: Int
    /// The `SCHED_FIFO` priority the threads run at; 0 when not raised.
    public let realtimePriority: Int32
    /// Why the threads were not raised, when asked to be.
    public let notRaised: String?

    /// Starts `threads` loops (at least one) and raises each to `SCHED_FIFO` `realtimePriority` (1-99) when that is
    /// not 0.
    public static func start(threads: Int, realtimePriority: Int) async -> MediaThreads {
        let count = max(1, threads)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: count)
        guard realtimePriority > 0 else {
            return MediaThreads(group: group, threads: count, realtimePriority: 0, notRaised: nil)
        }
        let priority = Int32(min(99, realtimePriority))
        let failure = await schedule(group, policy: SCHED_FIFO, priority: priority).map { error in
            error == EPERM ? "not permitted (needs CAP_SYS_NICE)" : String(cString: strerror(error))
        }
        if failure != nil {
            // All or none: a loop left behind would pace some calls worse than others.
            _ = await schedule(group, policy: SCHED_OTHER, priority: 0)
        }
        return MediaThreads(group: group, threads: count, realtimePriority: failure == nil ? priority : 0, notRaised: failure)
    }

    /// Sets every loop thread of `group` to `policy` at `priority`; the last error (errno), if one failed.
    private static func schedule(_ group: MultiThreadedEventLoopGroup, policy: Int32, priority: Int32) async -> Int32? {
        var failure: Int32?
        for loop in group.makeIterator() {
            let result = try? await loop.submit { () -> Int32 in
                var parameters = sched_param()
                parameters.sched_priority = priority
                // Capabilities are per thread: this one's, for this call only (a permitted file capability is not
                // effective until raised; root's stays as it was).
                let raised = policy != SCHED_OTHER && cshim_raise_capability(Self.sysNice) == 0
                defer { if raised { _ = cshim_lower_capability(Self.sysNice) } }
                return pthread_setschedparam(pthread_self(), policy, &parameters)
            }.get()
            if let result, result != 0 { failure = result }
        }
        return failure
    }

    /// `CAP_SYS_NICE` (linux/capability.h).
    static let sysNice: Int32 = 23

    public func shutdown() async {
        try? await group.shutdownGracefully()
    }
}
