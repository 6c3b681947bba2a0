import AnswerNinjaCore

public enum SpeechErrorDomain: NinjaErrorDomain {
    public static let name = "speech"
}

/// The error type of the Speech module: speech recognition and synthesis errors of pocketsphinx, espeak-ng and remote providers.
public typealias SpeechError = NinjaError<SpeechErrorDomain>
