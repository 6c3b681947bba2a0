import AnswerNinjaCore

public enum SIPTransportErrorDomain: NinjaErrorDomain {
    public static let name = "sip-transport"
}

/// The error type of the SIPTransport module: listener, connection and framing errors of the SIP transports.
public typealias SIPTransportError = NinjaError<SIPTransportErrorDomain>
