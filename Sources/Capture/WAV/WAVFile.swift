import NIOCore

/// 16-bit PCM WAV (RIFF) files, mono or interleaved: what recordings, test fixtures and `pcap inspect --wav` use.
public struct WAVFile: Sendable, Equatable {
    public var sampleRate: Int
    public var channels: Int
    /// Interleaved samples.
    public var samples: [Int16]

    public init(sampleRate: Int, channels: Int = 1, samples: [Int16]) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.samples = samples
    }

    /// Reads a RIFF/WAVE file with a PCM 16-bit `fmt ` chunk (WAVE_FORMAT_PCM or WAVE_FORMAT_EXTENSIBLE with the
    /// PCM subformat); other chunks are skipped.
    public init(parsing file: ByteBuffer) throws(CaptureError) {
        var buffer = file
        guard buffer.readString(length: 4) == "RIFF", buffer.readInteger(endianness: .little, as: UInt32.self) != nil,
            buffer.readString(length: 4) == "WAVE"
        else { throw CaptureError(code: .badWAV, message: "not a RIFF/WAVE file") }
        var format: (channels: Int, rate: Int, bits: Int)?
        var data: ByteBuffer?
        while let id = buffer.readString(length: 4), let size = buffer.readInteger(endianness: .little, as: UInt32.self) {
            guard var chunk = buffer.readSlice(length: min(Int(size), buffer.readableBytes)) else { break }
            if size % 2 == 1 { buffer.moveReaderIndex(forwardBy: min(1, buffer.readableBytes)) }
            switch id {
            case "fmt ":
                guard let tag = chunk.readInteger(endianness: .little, as: UInt16.self),
                    let channels = chunk.readInteger(endianness: .little, as: UInt16.self),
                    let rate = chunk.readInteger(endianness: .little, as: UInt32.self)
                else { throw CaptureError(code: .badWAV, message: "fmt chunk is cut short") }
                chunk.moveReaderIndex(forwardBy: min(6, chunk.readableBytes))
                guard let bits = chunk.readInteger(endianness: .little, as: UInt16.self) else {
                    throw CaptureError(code: .badWAV, message: "fmt chunk has no bits per sample")
                }
                guard tag == 1 || tag == 0xFFFE else { throw CaptureError(code: .badWAV, message: "WAV format \(tag) is not PCM") }
                format = (Int(channels), Int(rate), Int(bits))
            case "data":
                data = chunk
            default:
                continue
            }
        }
        guard let format, format.bits == 16, format.channels > 0, format.rate > 0 else {
            throw CaptureError(code: .badWAV, message: "only 16-bit PCM WAV is supported")
        }
        guard var data else { throw CaptureError(code: .badWAV, message: "no data chunk") }
        var samples: [Int16] = []
        samples.reserveCapacity(data.readableBytes / 2)
        while let sample = data.readInteger(endianness: .little, as: Int16.self) { samples.append(sample) }
        self.init(sampleRate: format.rate, channels: format.channels, samples: samples)
    }

    /// The file's bytes.
    public func write(to buffer: inout ByteBuffer) {
        let dataSize = samples.count * 2
        buffer.writeString("RIFF")
        buffer.writeInteger(UInt32(36 + dataSize), endianness: .little)
        buffer.writeString("WAVEfmt ")
        buffer.writeInteger(UInt32(16), endianness: .little)
        buffer.writeInteger(UInt16(1), endianness: .little)
        buffer.writeInteger(UInt16(channels), endianness: .little)
        buffer.writeInteger(UInt32(sampleRate), endianness: .little)
        buffer.writeInteger(UInt32(sampleRate * channels * 2), endianness: .little)
        buffer.writeInteger(UInt16(channels * 2), endianness: .little)
        buffer.writeInteger(UInt16(16), endianness: .little)
        buffer.writeString("data")
        buffer.writeInteger(UInt32(dataSize), endianness: .little)
        for sample in samples { buffer.writeInteger(sample, endianness: .little) }
    }

    public var durationSeconds: Double { Double(samples.count) / Double(max(1, channels * sampleRate)) }
}
