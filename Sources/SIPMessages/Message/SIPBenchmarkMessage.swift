/// The INVITE that `answer-ninja bench sip` and the Benchmarks package's SIP suite both measure (ten headers, the
/// shape of a trunk's INVITE), kept in one place so that their figures are of the same bytes.
public enum SIPBenchmarkMessage {
    public static let invite = """
        INVITE sip:+15551234567@gateway.example.com SIP/2.0\r
        Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r
        Max-Forwards: 70\r
        To: <sip:+15551234567@gateway.example.com>\r
        From: "Caller" <sip:+15557654321@trunk.example.com>;tag=1928301774\r
        Call-ID: a84b4c76e66710@192.0.2.10\r
        CSeq: 314159 INVITE\r
        Contact: <sip:+15557654321@192.0.2.10:5060>\r
        Content-Type: application/sdp\r
        Content-Length: 0\r
        \r

        """
}
