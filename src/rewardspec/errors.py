"""User-facing errors.

Everything a user can get wrong (a model name, a missing package, a bad
option) raises a subclass of :class:`RewardspecError`. The CLI turns these
into one line on stderr and exit code 2, so the message itself must say what
was wrong and what to do about it.
"""

from __future__ import annotations


class RewardspecError(Exception):
    """An error caused by input or environment, explained in the message."""


class InvalidInputError(RewardspecError, ValueError):
    """A value given by the user is outside what the method accepts."""


class UnknownModelError(RewardspecError, LookupError):
    """A model name is neither in the registry nor a path to a file."""


class MissingPackageError(RewardspecError, ImportError):
    """A Python package that holds weights or a backend is not installed."""


class ChecksumMismatchError(RewardspecError):
    """An assembled weight file does not have the sha256 the registry expects."""


class HubUnavailableError(RewardspecError):
    """A hub name was given but the hub cannot be reached from here."""
