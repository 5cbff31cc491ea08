"""Which part of a long response is the final answer: a box, a cue ("The answer is"), a letter, a number.

Every pattern here runs in time linear in the response: responses are model output."""

from __future__ import annotations

import re

from rewardspec.grading.latex import _boxed_spans, _content, _unwrap_text, last_boxed
from rewardspec.grading.words import NUMBER_WORDS, is_count, words_value


_ANSWER_CUE = re.compile(
    r"(?:final\s+answer|answers?)(?:\s+(?:is|are|would\s+be|will\s+be))?\s*(?:[:=]|(?<=is|re|be))", re.I
)
_CHOICE_CUE = re.compile(
    r"(?:answer|option|choice)(?:\s+(?:is|would\s+be|will\s+be))?\s*(?:[:=]|(?<=is|be))", re.I
)
_NUMBER = re.compile(r"(?<![\d.,])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d])|(?<![\d.])-?\.\d+")


def _cut_sentence(tail: str) -> str:
    """The answer phrase at the start of ``tail``: up to a full stop outside maths."""
    in_math = False
    for pos, char in enumerate(tail):
        if char == "$" and tail[pos - 1 : pos] != "\\":
            in_math = not in_math
        elif char == "." and not in_math and (pos + 1 == len(tail) or tail[pos + 1].isspace()):
            return tail[:pos]
    return tail


def _after_cue(text: str, cue: re.Pattern[str]) -> str | None:
    """The phrase after the last answer cue ("The answer is", "Answer:")."""
    matches = list(cue.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :].lstrip(" \t*")
    line = next((line for line in rest.split("\n") if line.strip()), "")  # "Answer:\n\n$$5$$" too
    phrase = _cut_sentence(line.strip()).strip().strip("*").strip()
    math = re.fullmatch(r"\$+([^$]+)\$+|\\\((.+)\\\)|\\\[(.+)\\\]", phrase)
    if math:  # "The answer is $\frac{1}{2}$." -> \frac{1}{2}
        phrase = next(group for group in math.groups() if group is not None).strip()
    return phrase or None


def _last_number(text: str) -> tuple[int, str] | None:
    """(end, digits) of the last number. Words count ("The remainder is three.") only in a
    last clause without digits: the last sentence, from its last "so"/"therefore" on, so that
    "18 dollars for the two of them" reads 18 and "holds 4, so there are eight mugs" reads 8."""
    matches = list(_NUMBER.finditer(text))
    last = (matches[-1].end(), matches[-1].group().replace(",", "")) if matches else None
    clause = _last_sentence_start(text)
    conclusions = list(_CONCLUSION.finditer(text, clause))
    clause = conclusions[-1].end() if conclusions else clause
    if last is not None and last[0] > clause:
        return last
    spelled = [m for m in NUMBER_WORDS.finditer(text, clause) if is_count(text, m)]
    if spelled and (value := words_value(spelled[-1].group())) is not None:
        return spelled[-1].end(), str(value)
    return last


_SENTENCE_END = re.compile(r"(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bvs)(?<!\be\.g)(?<!\bi\.e)[.!?](?:\s|$)|\n")


def _last_sentence_start(text: str) -> int:
    """Where the last sentence with any letters or digits begins."""
    body = text.rstrip(" \t\n.!?*")
    starts = [m.end() for m in _SENTENCE_END.finditer(body)]
    return starts[-1] if starts else 0


# A closing check ("Check: 8 mugs x $3 = $24") restates the work, and its last number is
# not the answer; it starts a line or a sentence and draws no conclusion of its own.
_VERIFICATION = re.compile(
    r"(?:^|(?<=\n)|(?<=[.!?] ))[ \t#*]*(?:let(?:'|’)?s\s+|let\s+me\s+|we\s+can\s+)?"
    r"(?:double[- ]?check|check|verify|verification|sanity\s+check)(?:ing)?\b",
    re.I,
)
_CONCLUSION = re.compile(r"\b(?:so|therefore|thus|hence|answer)\b", re.I)


def _before_verification(text: str) -> str:
    """``text`` without a closing check, when what comes before it has a number to answer with."""
    checks = list(_VERIFICATION.finditer(text))
    if not checks or _CONCLUSION.search(text, checks[-1].end()):
        return text
    before = text[: checks[-1].start()]
    return before if _last_number(before) is not None else text


def extract_answer(text: str) -> str | None:
    """The final answer: last ``\\boxed{}``, else "The answer is …", else the last number."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    cued = _after_cue(text, _ANSWER_CUE)
    if cued is not None:
        return cued
    number = _last_number(text)
    return number[1] if number else None


def _final_paragraph_boxes(text: str) -> list[str]:
    """The boxes of the last paragraph with a box; a box inside another is part of that one."""
    spans = _boxed_spans(text)
    if not spans:
        return []
    start = text.rfind("\n\n", 0, spans[-1][0])
    boxes, outer_end = [], -1
    for span in spans:
        if span[0] > start and span[0] >= outer_end:
            boxes.append(_content(text, span))
            outer_end = span[1]
    return boxes


def _extract_for_grading(response: str, dataset: str, gold_is_list: bool) -> str | None:
    """The answer to grade, using what the dataset's answers look like."""
    if gold_is_list:
        boxes = _final_paragraph_boxes(response)
        if len(boxes) > 1:  # "\boxed{1} and \boxed{3}" answers a two-part question
            return ", ".join(boxes)
    answer = last_boxed(response)
    if answer is None:
        answer = _after_cue(response, _ANSWER_CUE)
    if answer is not None:
        return answer
    response = _before_verification(response)
    if dataset == "gsm8k":  # its answers are numbers, and chain-of-thought ends on the result
        number = _last_number(response)
        return number[1] if number else None
    return _last_math_or_number(response)


def _last_math_or_number(text: str) -> str | None:
    """Whichever comes last: a maths span such as ``$x=3$``, or a bare number."""
    number = _last_number(text)
    span = _last_math_span(text)
    if span is not None and (number is None or span[0] >= number[0]):
        return span[1]
    return number[1] if number else None


_MATH_OPENER = re.compile(r"\$|\\[\[(]")
_MATH_CLOSERS = {"$$": "$$", "\\[": "\\]", "\\(": "\\)"}


def _last_math_span(text: str) -> tuple[int, str] | None:
    """(end, content) of the last ``$$..$$``, ``\\[..\\]``, ``\\(..\\)`` or ``$..$`` span.

    Spans are read left to right, as a regular expression would, but each
    kind of delimiter is searched for with ``str.find``, and a kind with no
    closing delimiter left is not searched for again: unclosed ``\\[`` or
    ``$`` repeated thousands of times cost one pass.
    """
    last, pos, closed = None, 0, {"$$": True, "\\[": True, "\\(": True}
    while (opener := _MATH_OPENER.search(text, pos)) is not None:
        start = opener.start()
        kind = "$$" if text.startswith("$$", start) else opener.group()
        if kind != "$" and closed[kind]:
            end = text.find(_MATH_CLOSERS[kind], start + 3)
            if end >= 0:
                last, pos = (end + 2, text[start + 2 : end].strip()), end + 2
                continue
            closed[kind] = False
        if kind != "$$" and text[start] == "$" and text[start - 1 : start] not in ("\\", "$"):
            end = text.find("$", start + 1)
            if end > start + 1 and text[end - 1] != "\\":
                last, pos = (end + 1, text[start + 1 : end].strip()), end + 1
                continue
        pos = start + 1
    return last


def _choice_at_start(phrase: str, letters: str) -> str | None:
    """The option letter a short phrase such as ``(B) 12``, ``\\text{(D)}`` or ``C.`` names."""
    phrase = _unwrap_text(phrase.replace("$", "")).replace("**", "").strip()
    phrase = re.sub(r"^(?:option|choice)\s*", "", phrase, flags=re.I)
    match = re.match(rf"\(?([{letters}])\)?(?![A-Za-z0-9'])", phrase)
    if match:
        return match.group(1)
    # Lower case only where it cannot be a variable: "(c)", or the letter as the whole answer.
    lower = letters.lower()
    match = re.match(rf"\(([{lower}])\)(?![A-Za-z0-9'])|([{lower}])[.)]?$", phrase)
    return (match.group(1) or match.group(2)).upper() if match else None


def extract_choice(text: str, letters: str = "ABCD") -> str | None:
    """The multiple-choice letter a response settles on, or None if it names none."""
    boxed = last_boxed(text)
    if boxed is not None:
        letter = _choice_at_start(boxed, letters)
        if letter:
            return letter
    cued = _after_cue(text, _CHOICE_CUE)
    if cued is not None:
        letter = _choice_at_start(cued, letters)
        if letter:
            return letter
    stripped = text.strip()
    if len(stripped) <= 40 and (letter := _choice_at_start(stripped, letters)):
        return letter
    last_line = stripped.rsplit("\n", 1)[-1]
    marked = set(re.findall(rf"\(([{letters}])\)", last_line))
    if len(marked) == 1:
        return marked.pop()
    return _choice_at_start(last_line, letters) if re.match(rf"\(?[{letters}][.):]", last_line) else None
