/// Turns an utterance into the sparse binary features of the intent model: word unigrams, word bigrams (with a
/// start marker, so "hello" opening a call differs from "hello" later) and character 3- to 5-grams inside each
/// word padded with spaces (which survive recogniser errors that change a word's ending: "warranty" / "warrant").
///
/// Each feature is an FNV-1a 64-bit hash of a kind byte and its text, computed straight from the normalised bytes:
/// extraction allocates one byte array and one hash array per utterance, never a String per n-gram. Text is
/// normalised as a recogniser writes it: lower case, digits spelled out ("4" → "four"), everything that is not a
/// letter or digit a word break, apostrophes dropped ("it's" → "its").
public struct IntentFeatures: Sendable {
    public static let characterGramLengths = 3...5

    private enum Kind: UInt8 {
        case word = 1, bigram = 2, characters = 3
    }

    /// The lower-case words of `text`, digits spelled out.
    public static func normalise(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 8)
        var lastWasSpace = true
        func space() {
            if !lastWasSpace {
                bytes.append(0x20)
                lastWasSpace = true
            }
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"):
                bytes.append(byte)
                lastWasSpace = false
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                bytes.append(byte + 32)
                lastWasSpace = false
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                space()
                bytes.append(contentsOf: digitWords[Int(byte - UInt8(ascii: "0"))])
                lastWasSpace = false
                space()
            case UInt8(ascii: "'"):
                continue
            default:
                space()
            }
        }
        if bytes.last == 0x20 { bytes.removeLast() }
        return bytes
    }

    private static let digitWords: [[UInt8]] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"].map { Array($0.utf8) }

    /// The feature hashes of `text`, sorted and without duplicates (presence, not counts).
    public static func hashes(of text: String) -> [UInt64] {
        let bytes = normalise(text)
        var words: [Range<Int>] = []
        var start = 0
        for (i, byte) in bytes.enumerated() where byte == 0x20 {
            if i > start { words.append(start..<i) }
            start = i + 1
        }
        if bytes.count > start { words.append(start..<bytes.count) }

        var features: [UInt64] = []
        features.reserveCapacity(words.count * 16)
        var previous: Range<Int>?
        for word in words {
            features.append(hash(.word, bytes[word]))
            var bigram = begin(.bigram)
            if let previous {
                bigram = feed(bigram, bytes[previous])
            } else {
                bigram = feed(bigram, [0x02])
            }
            bigram = feed(bigram, [0x20])
            features.append(feed(bigram, bytes[word]))
            previous = word

            // " word " padded; grams that would be the whole padded word are still taken (short words).
            let padded = word.count + 2
            for length in characterGramLengths where length <= padded {
                for offset in 0...(padded - length) {
                    var h = begin(.characters)
                    for position in offset..<(offset + length) {
                        let byte: UInt8 = (position == 0 || position == padded - 1) ? 0x20 : bytes[word.lowerBound + position - 1]
                        h = step(h, byte)
                    }
                    features.append(h)
                }
            }
        }
        features.sort()
        var unique: [UInt64] = []
        unique.reserveCapacity(features.count)
        for feature in features where unique.last != feature {
            unique.append(feature)
        }
        return unique
    }

    private static func begin(_ kind: Kind) -> UInt64 {
        step(0xCBF2_9CE4_8422_2325, kind.rawValue)
    }

    @inline(__always)
    private static func step(_ hash: UInt64, _ byte: UInt8) -> UInt64 {
        (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }

    private static func feed<C: Collection>(_ hash: UInt64, _ bytes: C) -> UInt64 where C.Element == UInt8 {
        var h = hash
        for byte in bytes { h = step(h, byte) }
        return h
    }

    private static func hash(_ kind: Kind, _ bytes: ArraySlice<UInt8>) -> UInt64 {
        feed(begin(kind), bytes)
    }
}
