import AnswerNinjaCore

public enum CaptureErrorDomain: NinjaErrorDomain {
    public static let name = "capture"
}

/// The error type of the Capture module: pcap and WAV files that cannot be read or written.
public typealias CaptureError = NinjaError<CaptureErrorDomain>
