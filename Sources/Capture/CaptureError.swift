import AnswerNinjaCore

public enum CaptureErrorDomain: NinjaErrorDomain {
    public static let name = "capture"
}

/// The error type of the Capture module: pcap and WAV files that cannot be read or written.
public typealias CaptureError = NinjaError<CaptureErrorDomain>

extension NinjaError.Code where Domain == CaptureErrorDomain {
    public static let notACapture = Self("not_a_capture")
    public static let truncated = Self("truncated")
    public static let malformed = Self("malformed")
    public static let badWAV = Self("bad_wav")
}
