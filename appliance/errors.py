"""What can go wrong that a person can fix, each kind with its exit status.

Every error kickwatch raises on purpose is one of these (or the sensor's own
SensorError family, or ConfigError): the command line turns them into one line and
the status the README's table gives. Anything else is a bug in kickwatch, said as
such (exit 70), never dressed up as the user's mistake.
"""
from __future__ import annotations

# sysexits(3): systemd and scripts can tell a bad config (never retried) from a passing fault
EX_NOTHING, EX_USAGE, EX_DATAERR, EX_UNAVAILABLE, EX_SOFTWARE, EX_CANTCREAT, EX_IOERR, EX_CONFIG = (
    1, 64, 65, 69, 70, 73, 74, 78)


class KickwatchError(Exception):
    """A fault with a message that says what is wrong and what to do."""

    code = EX_SOFTWARE

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class UsageError(KickwatchError):
    """The command was asked for something it cannot do: a bad option, date or name."""

    code = EX_USAGE


class NothingToShow(KickwatchError):
    """The question was fine, the answer is "none": no night of that date, a check that failed."""

    code = EX_NOTHING


def exit_code(e: BaseException) -> int:
    """The README's exit status for an error kickwatch knows; EX_SOFTWARE for one it does not."""
    from appliance.config import ConfigError
    from appliance.detection.errors import CannotMeasure
    from appliance.store import StoreError
    from sensor.errors import RecordingError, SensorError, SourceSettingError

    for kind, code in ((KickwatchError, None), (ConfigError, EX_CONFIG), (RecordingError, EX_DATAERR),
                       (CannotMeasure, EX_DATAERR),
                       (SourceSettingError, EX_USAGE), (SensorError, EX_UNAVAILABLE), (StoreError, EX_CANTCREAT),
                       (OSError, EX_IOERR)):
        if isinstance(e, kind):
            return e.code if code is None else code
    return EX_SOFTWARE
