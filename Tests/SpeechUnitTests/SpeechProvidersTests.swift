import AnswerNinjaCore
import Speech
import Testing

@Suite(.serialized) struct SpeechProvidersTests {
    @Test(.timeLimit(.minutes(1)))
    func theConfigurationChoosesEmbeddedOrARemoteProviderWithItsFallback() async throws {
        let embedded = try await SpeechProviders.make(try ConfigurationLoader(environment: ["ANSWER_NINJA_SPEECH_STT_DECODERS": "1"]).load().speech)
        #expect(embedded.recognizer is PocketSphinxRecognizer)
        #expect(embedded.synthesizer is EspeakSynthesizer)
        try await embedded.embeddedRecognizer.shutdown()

        let remote = try await SpeechProviders.make(try ConfigurationLoader(environment: [
            "ANSWER_NINJA_SPEECH_STT_DECODERS": "1", "ANSWER_NINJA_SPEECH_STT_PROVIDER": "azure", "ANSWER_NINJA_SPEECH_TTS_PROVIDER": "openai",
            "ANSWER_NINJA_SPEECH_PROVIDER_URL": "https://westeurope.stt.speech.microsoft.com", "ANSWER_NINJA_SPEECH_PROVIDER_KEY": "k",
            "ANSWER_NINJA_SPEECH_SYNTHESIS_URL": "http://127.0.0.1:9/",
        ]).load().speech)
        let recognizer = try #require(remote.recognizer as? FallbackRecognizer)
        #expect((recognizer.primary as? RemoteRecognizer)?.settings.api == .azure)
        #expect(recognizer.fallback is PocketSphinxRecognizer)
        let synthesizer = try #require(remote.synthesizer as? FallbackSynthesizer)
        #expect((synthesizer.primary as? RemoteSynthesizer)?.settings.url == "http://127.0.0.1:9")
        try await remote.embeddedRecognizer.shutdown()
    }

    @Test func aRemoteProviderNeedsItsURL() {
        #expect(throws: CoreError.self) {
            _ = try ConfigurationLoader(environment: ["ANSWER_NINJA_SPEECH_STT_PROVIDER": "openai"]).load()
        }
    }
}
