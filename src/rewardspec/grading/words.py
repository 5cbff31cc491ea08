"""Numbers written as words ("eighteen", "twenty-five", "one hundred and five").

Models end answers in prose ("The remainder is three."), and a grader that
reads only digits marks them wrong. Only whole phrases of number words are
read, so "eighteen" is 18 and never 80, and "one" used as a pronoun ("each
one", "one of them") is not a number.
"""

from __future__ import annotations

import re

_UNITS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {word: 10 * (i + 2) for i, word in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))

#: A run of number words, hyphens and "and" between them; found from its first word only.
NUMBER_WORDS = re.compile(
    rf"(?<![A-Za-z-])(?:{_WORD})(?:(?:[\s-]+(?:and\s+)?)(?:{_WORD}))*(?![A-Za-z-])", re.I
)
# "each one", "the one", "one of", "one another": "one" as a pronoun, not a count.
_PRONOUN_BEFORE = re.compile(
    r"(?:each|every|any|no|the|this|that|which|another|some|last|first|other|a|an|only)\s+$", re.I
)
_PRONOUN_AFTER = re.compile(r"^\s*(?:of|another|by|at|more|less|thing|way)\b|^-", re.I)


def words_value(phrase: str) -> int | None:
    """The integer a phrase made only of number words names, or None."""
    words = [w for w in re.split(r"[\s-]+", phrase.strip().lower()) if w and w != "and"]
    if not words or len(words) > 12:
        return None
    total, group, last = 0, 0, None  # last: the kind of the previous word, to refuse "five five"
    last_scale = 10**12
    for word in words:
        if word in _UNITS:
            if last in ("unit", "teen") or (last == "tens" and not 0 < _UNITS[word] < 10):
                return None  # "five five", "twenty fifteen", "twenty zero"
            group += _UNITS[word]
            last = "teen" if _UNITS[word] >= 10 else "unit"
        elif word in _TENS:
            if last in ("unit", "teen", "tens") or group % 100:
                return None
            group += _TENS[word]
            last = "tens"
        elif word == "hundred":
            if last not in ("unit", "teen") or group >= 100 or group == 0:
                return None
            group *= 100
            last = "hundred"
        elif word in _SCALES:
            scale = _SCALES[word]
            if group == 0 or scale >= last_scale:  # "thousand million", "two thousand three million"
                return None
            total += group * scale
            group, last, last_scale = 0, "scale", scale
        else:
            return None
    return total + group


def is_count(text: str, match: re.Match[str]) -> bool:
    """Whether a match of :data:`NUMBER_WORDS` in ``text`` is a number, not the pronoun "one"."""
    if match.group().lower() != "one":
        return True
    return not (_PRONOUN_BEFORE.search(text[max(0, match.start() - 12) : match.start()])
                or _PRONOUN_AFTER.search(text[match.end() : match.end() + 12]))


_TRAILING_NOUNS = re.compile(r"(?:\s+[A-Za-z]+){0,2}\s*%?$")
_NOT_A_NOUN = {"of", "the", "a", "an", "or", "and", "more", "less", "than", "fewer", "times", "half",
               "quarter", "quarters", "third", "thirds", "fifths", "percent", "point", "over", "plus",
               "minus", "hundredths", "tenths", "squared", "cubed"}


def spelled_number(answer: str) -> tuple[int, bool] | None:
    """(value, percent) of an answer that is a number in words, with at most two nouns after it.

    "eighteen", "eight mugs" and "twenty%" are numbers; "one of them", "three
    times as many", "two thirds" and "five 5" are not.
    """
    text = answer.strip()
    match = NUMBER_WORDS.match(text)
    if match is None:
        return None
    rest = text[match.end() :]
    if not _TRAILING_NOUNS.fullmatch(rest) or set(rest.lower().rstrip("%").split()) & _NOT_A_NOUN:
        return None
    value = words_value(match.group())
    return None if value is None else (value, rest.endswith("%"))
