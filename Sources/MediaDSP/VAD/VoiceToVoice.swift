import Foundation

/// Voice-to-voice latency as the caller experiences it (`call --play ... --json` reports it): for each utterance of
/// what the caller played (the VAD and endpointer on that audio), the time from its last speech sample to the first
/// 20 ms frame heard back above −40 dBFS. What is heard is the caller's own jitter-buffer playout on the same
/// 20 ms timeline as what it sent, so the figure includes the far end's whole turn plus both packetisations and
/// the caller's jitter buffer. Nothing heard before the next utterance (or the end) is "no reply" (nil): a muted far
/// end reports nil for every utterance.
public enum VoiceToVoice {
    public static let thresholdDBFS = -40.0

    public static func measure(played: [Int16], heard: [Int16], sampleRate: Int = 8000) -> [Double?] {
        var vad = VoiceActivityDetector()
        var endpointer = Endpointer()
        var utterances: [Endpointer.Utterance] = []
        for start in stride(from: 0, to: played.count - 79, by: 80) {
            let frame = vad.process(played[start..<start + 80])
            for case .utteranceEnded(let utterance) in endpointer.process(probability: frame.probability, energyDB: frame.energyDB) { utterances.append(utterance) }
        }
        for case .utteranceEnded(let utterance) in endpointer.flush() { utterances.append(utterance) }
        return utterances.enumerated().map { index, utterance in
            let end = Int(utterance.endSeconds * Double(sampleRate))
            let limit = index + 1 < utterances.count ? Int(utterances[index + 1].startSeconds * Double(sampleRate)) : heard.count
            // Frames on the 20 ms grid, from the one the utterance ended in.
            var frame = end / 160 * 160
            while frame + 160 <= min(limit, heard.count) {
                if isHeard(heard[frame..<frame + 160]) { return Double(max(0, frame - end)) * 1000 / Double(sampleRate) }
                frame += 160
            }
            return nil
        }
    }

    /// Whether a frame counts as a reply: its level is at least −40 dBFS (RMS).
    public static func isHeard(_ frame: ArraySlice<Int16>) -> Bool {
        !frame.isEmpty && CallerListener.meanSquare(frame).squareRoot() >= 32768 * pow(10, thresholdDBFS / 20)
    }
}
