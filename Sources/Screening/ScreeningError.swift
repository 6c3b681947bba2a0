import AnswerNinjaCore

public enum ScreeningErrorDomain: NinjaErrorDomain {
    public static let name = "screening"
}

/// The error type of the Screening module: screening decision inputs that cannot be used (bad PASSporT, unknown user).
public typealias ScreeningError = NinjaError<ScreeningErrorDomain>
