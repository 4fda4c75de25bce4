"""Sensor errors. Each inherits a built-in too, and its message says what to do."""


class SensorError(Exception):
    """Anything wrong with where samples come from."""


class SPIDeviceAbsent(SensorError, FileNotFoundError):
    """The SPI device node is missing: SPI is off, or the wrong bus/device is configured."""


class SoftwareSPIRefused(SensorError, RuntimeError):
    """gpiozero would fall back to bit-banged SPI, which is too slow and jittery for us."""


class ADCNotAnswering(SensorError, IOError):
    """The ADC does not answer as its datasheet says (wiring, power, chip select)."""


class TransferFailed(SensorError, IOError):
    """One SPI transfer failed; the caller records a gap and goes on."""


class RecordingError(SensorError, ValueError):
    """A recording cannot be read or written: missing, corrupt, or the wrong shape."""


class SourceSettingError(SensorError, ValueError):
    """A source was asked for that cannot be: an unknown kind, profile, chip, rate or gain."""
