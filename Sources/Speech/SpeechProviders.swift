import AnswerNinjaCore

/// The recogniser and synthesizer the configuration asks for: the embedded engines, or a remote provider with the
/// embedded engine behind it as its fallback (docs/conversation.md).
public struct SpeechProviders: Sendable {
    public let recognizer: any SpeechRecognizer
    public let synthesizer: any SpeechSynthesizer
    /// The embedded recogniser (also the fallback), to shut down with the role.
    public let embeddedRecognizer: PocketSphinxRecognizer

    public static func make(_ speech: NinjaConfiguration.Speech) async throws -> SpeechProviders {
        let embedded = try await PocketSphinxRecognizer.make(decoders: speech.sttDecoders, streaming: speech.sttStreaming)
        let espeak = try await EspeakSynthesizer.shared()
        func settings(_ provider: String, url: String?, model: String) -> RemoteSpeechSettings? {
            guard let api = RemoteSpeechSettings.API(rawValue: provider), let url else { return nil }
            return RemoteSpeechSettings(api: api, url: url, apiKey: speech.providerKey, model: model, voice: speech.ttsVoice, timeout: speech.providerTimeout)
        }
        let recognizer: any SpeechRecognizer = settings(speech.sttProvider, url: speech.providerURL, model: speech.sttModel).map {
            FallbackRecognizer(primary: RemoteRecognizer(settings: $0), fallback: embedded)
        } ?? embedded
        let synthesizer: any SpeechSynthesizer = settings(speech.ttsProvider, url: speech.synthesisURL ?? speech.providerURL, model: speech.ttsModel).map {
            FallbackSynthesizer(primary: RemoteSynthesizer(settings: $0), fallback: espeak)
        } ?? espeak
        return SpeechProviders(recognizer: recognizer, synthesizer: synthesizer, embeddedRecognizer: embedded)
    }
}
