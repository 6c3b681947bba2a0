/// L16 (RFC 3551 §4.5.11): 16-bit signed linear samples in network byte order.
public enum L16 {
    public static func encode(_ samples: some Collection<Int16>, into output: inout [UInt8]) {
        output.removeAll(keepingCapacity: true)
        output.reserveCapacity(samples.count * 2)
        for sample in samples {
            let bits = UInt16(bitPattern: sample)
            output.append(UInt8(bits >> 8))
            output.append(UInt8(bits & 0xFF))
        }
    }

    /// Decodes pairs of bytes; an odd trailing byte is a malformed payload.
    public static func decode(_ bytes: some Collection<UInt8>, into output: inout [Int16]) throws(CodecError) {
        guard bytes.count % 2 == 0 else {
            throw CodecError(code: .init("malformed"), message: "L16 payload of \(bytes.count) bytes is not whole samples")
        }
        output.removeAll(keepingCapacity: true)
        output.reserveCapacity(bytes.count / 2)
        var iterator = bytes.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            output.append(Int16(bitPattern: UInt16(high) << 8 | UInt16(low)))
        }
    }
}
