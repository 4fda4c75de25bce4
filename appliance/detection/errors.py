"""The one thing the science refuses: input that cannot carry any figure at all."""


class CannotMeasure(ValueError):
    """The input cannot show a leg movement at all (a sample rate too low); the message says what would."""
