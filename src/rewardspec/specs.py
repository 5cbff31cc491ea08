"""One grammar for every spec string: ``PREFIX:BODY[@URL[,URL…]][?key=value&…]``.

Models, rewards, rules and routes are all named by one short string, so that a
CLI flag, a line of YAML and a server request say the same thing. Each table
(backends, rewards, …) looks its row up by the prefix; the row's loader then
reads the body, the URLs and typed options from the one parsed :class:`Spec`.
Parsing in one place gives users one set of rules: option names are
case-insensitive and take ``-`` or ``_``, values are URL-decoded (write a
newline as ``%0A``, "+" as ``%2B``), a bare ``?flag`` means true, and every
mistake is an :class:`~rewardspec.errors.InvalidInputError` that says what was
wrong and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from rewardspec.errors import InvalidInputError

_TRUE = ("1", "true", "yes", "on", "")
_FALSE = ("0", "false", "no", "off")


class Options(Mapping[str, object]):
    """A spec's ``?key=value`` options, read with the type each key needs.

    Values are strings when parsed from a spec, or already typed when they come
    from a YAML mapping; the accessors take either. ``where`` names the spec in
    error messages, e.g. ``"'orm:DIR?scale=0'"`` or ``"remote model 'm'"``.
    """

    def __init__(self, values: Mapping[str, object] | None = None, where: str = "the spec") -> None:
        self._values = {normalise_key(k): v for k, v in (values or {}).items()}
        self.where = where

    # -- Mapping ------------------------------------------------------------------
    def __getitem__(self, key: str) -> object:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Options({self._values!r})"

    # -- checks and typed reads ---------------------------------------------------
    def check(self, allowed: Collection[str]) -> Options:
        """Refuse keys outside ``allowed``: a misspelt option must not be silently ignored."""
        unknown = sorted(set(self._values) - set(allowed))
        if unknown:
            raise InvalidInputError(
                f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} in {self.where}; "
                f"allowed: {', '.join(sorted(allowed)) or 'none'}"
            )
        return self

    def without(self, *keys: str) -> Options:
        """The other options: what a row hands on to the part it wraps (e.g. a server's spec)."""
        return Options({k: v for k, v in self._values.items() if k not in keys}, self.where)

    def text(self, key: str, default: str | None = None) -> str | None:
        """The value as written; an empty value counts as not given."""
        value = self._values.get(key)
        return default if value is None or value == "" else str(value)

    def flag(self, key: str, default: bool | None = False) -> bool | None:
        """true/false, yes/no, on/off, 1/0; a bare ``?key`` is true."""
        if key not in self._values or self._values[key] is None:
            return default
        value = self._values[key]
        if isinstance(value, bool):
            return value
        low = str(value).strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise self.error(key, "true or false")

    def number(self, key: str, default: float | None = None, *, integer: bool = False,
               minimum: float | None = None, exclusive: bool = False,
               maximum: float | None = None) -> float | int | None:
        """A finite number (a whole one with ``integer``), at least ``minimum`` (above it with
        ``exclusive``) and at most ``maximum``; ``default`` when the key is absent or empty."""
        raw = self._values.get(key)
        if raw is None or raw == "":
            return default
        expected = "a whole number" if integer else "a finite number"
        if minimum is not None:
            expected += f" {'>' if exclusive else '>='} {minimum:g}"
        if maximum is not None:
            expected += f"{' and' if minimum is not None else ''} <= {maximum:g}"
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise self.error(key, expected) from None
        if (isinstance(raw, bool) or not math.isfinite(value) or (integer and value != int(value))
                or (minimum is not None and (value <= minimum if exclusive else value < minimum))
                or (maximum is not None and value > maximum)):
            raise self.error(key, expected)
        return int(value) if integer else value

    def error(self, key: str, expected: str) -> InvalidInputError:
        """One message for a bad value: where, which option, what it was, what was expected."""
        return InvalidInputError(f"{self.where}: option {key}={self._values.get(key)!r}: expected {expected}")


@dataclass(frozen=True)
class Spec:
    """A spec string, parsed once.

    ``prefix`` is the table row it names ("" for a table's default row);
    ``rest`` is everything after ``PREFIX:`` exactly as written (what a row
    that wraps another spec, like ``likelihood:MODEL``, passes on); ``body`` is
    ``rest`` without its URLs and options.
    """

    text: str
    prefix: str
    rest: str
    body: str
    urls: tuple[str, ...] = ()
    options: Options = field(default_factory=Options)


def normalise_key(key: str) -> str:
    return key.strip().lower().replace("-", "_")


def split_prefix(text: str, prefixes: Collection[str]) -> tuple[str, str]:
    """``("qwen-prm", "DIR?device=cpu")`` for ``"qwen-prm:DIR?device=cpu"``; ``("", text)`` when the
    text names no known prefix. A prefix ends at the first ``:`` or ``?`` (``qwen-prm?device=cpu``),
    so a hub name with a colon (``owner/repo:file.gguf``) is a body, not a prefix."""
    text = text.strip()
    cut = min((i for i in (text.find(":"), text.find("?")) if i >= 0), default=len(text))
    head = text[:cut].strip()
    if head and head in prefixes:
        return head, text[cut + 1:] if text[cut:cut + 1] == ":" else text[cut:]
    return "", text


def parse_options(query: str, where: str) -> Options:
    """``device=cpu&dtype=float32`` -> its options (keys normalised, values URL-decoded)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if query.strip() and not pairs:
        raise InvalidInputError(
            f"cannot read the options '{query}' in {where}; write them as key=value pairs joined "
            "by '&', e.g. ?device=cpu&dtype=float32"
        )
    return Options(dict(pairs), where)


def parse_spec(text: str, prefixes: Collection[str] = (), *, urls: bool = False,
               where: str | None = None) -> Spec:
    """Parse ``text`` into its prefix (one of ``prefixes``, or ""), body, URLs and options.

    ``urls``: the body is ``MODEL@URL[,URL…]`` (a model on servers); the URLs are
    split off and must be http(s). ``where`` names the spec in errors (default:
    the text in quotes).
    """
    text = text.strip()
    where = where or f"'{text}'"
    prefix, rest = split_prefix(text, prefixes)
    body, _, query = rest.partition("?")
    found: tuple[str, ...] = ()
    if urls:
        body, _, at = body.partition("@")
        found = parse_urls(at.split(","), where)
    return Spec(text, prefix, rest, body.strip(), found, parse_options(query, where))


def parse_urls(urls: object, where: str) -> tuple[str, ...]:
    """Base URLs, trailing slashes removed; each must be http(s)."""
    items = [urls] if isinstance(urls, str) else list(urls or ())  # type: ignore[call-overload]
    found = tuple(str(u).strip().rstrip("/") for u in items if str(u).strip())
    for url in found:
        if not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"{where}: base URL '{url}' must start with http:// or https://")
    return found
