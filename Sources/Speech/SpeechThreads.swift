import CThreadPriority

/// The speech engines' threads run below the media's: a 20 ms RTP send that waits behind a decode is an audio
/// underrun for every call, while a decode that waits a few milliseconds delays one reply by as much. So each
/// pocketsphinx and espeak-ng thread lowers its own priority (nice 10; Linux keeps a nice value per thread) before it
/// works; event loops and Swift's cooperative pool keep the default.
public enum SpeechThreads {
    public static let niceValue: Int32 = 10

    /// Lowers the calling thread to `niceValue` (a system call; idempotent). False if the kernel refused.
    @discardableResult
    public static func lowerPriority() -> Bool {
        cshim_lower_thread_priority(niceValue) == 0
    }

    /// The calling thread's nice value.
    public static var currentNiceValue: Int32 { cshim_thread_priority() }
}
