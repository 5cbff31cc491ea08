"""The one spec grammar, PREFIX:BODY[@URLS][?k=v]: parsing, typed options, and what errors say."""

from __future__ import annotations

import pytest

from rewardspec.errors import InvalidInputError
from rewardspec.specs import Options, parse_spec, split_prefix

PREFIXES = ("qwen-prm", "likelihood", "vllm-prm")


@pytest.mark.parametrize(("text", "prefix", "rest"), [
    ("qwen-prm:/m/prm?device=cpu", "qwen-prm", "/m/prm?device=cpu"),
    ("qwen-prm?device=cpu", "qwen-prm", "?device=cpu"),  # a prefix may take options alone
    ("qwen-prm", "qwen-prm", ""),
    ("likelihood:openai:m@http://a/v1?params=7", "likelihood", "openai:m@http://a/v1?params=7"),
    ("Qwen/Qwen2.5-0.5B-Instruct-GGUF:q4.gguf", "", "Qwen/Qwen2.5-0.5B-Instruct-GGUF:q4.gguf"),
    ("  likelihood-min ", "", "likelihood-min"),  # not a known prefix: no row of this table
])
def test_the_prefix_is_looked_up_not_guessed(text, prefix, rest):
    assert split_prefix(text, PREFIXES) == (prefix, rest)


def test_body_urls_and_options_are_split_once():
    spec = parse_spec("vllm-prm:Qwen/PRM@http://a:8000/v1/, http://b:8000/v1?Step-Tag=%0A&good=%2B&bare",
                      PREFIXES, urls=True)
    assert (spec.prefix, spec.body, spec.urls) == ("vllm-prm", "Qwen/PRM", ("http://a:8000/v1", "http://b:8000/v1"))
    assert dict(spec.options) == {"step_tag": "\n", "good": "+", "bare": ""}  # keys normalised, values decoded
    assert spec.options.flag("bare") is True and spec.options.flag("absent") is False
    without_urls = parse_spec("qwen-prm:/m/a@b?device=cpu", PREFIXES)
    assert (without_urls.body, without_urls.urls) == ("/m/a@b", ())  # '@' is a URL only where a row says so


@pytest.mark.parametrize(("raw", "kwargs", "value"), [
    ("3", {"integer": True, "minimum": 1}, 3),
    ("7.6e9", {"integer": True}, 7_600_000_000),
    ("0.5", {"minimum": 0, "exclusive": True}, 0.5),
    ("", {}, None),  # empty counts as absent: the default
])
def test_numbers_are_typed(raw, kwargs, value):
    assert Options({"k": raw}).number("k", **kwargs) == value


@pytest.mark.parametrize(("raw", "kwargs", "expected"), [
    ("many", {}, "expected a finite number"),
    ("inf", {}, "expected a finite number"),
    ("nan", {"minimum": 0}, "expected a finite number >= 0"),
    ("2.5", {"integer": True}, "expected a whole number"),
    ("0", {"integer": True, "minimum": 0, "exclusive": True}, "expected a whole number > 0"),
    ("2e15", {"maximum": 1e15}, "expected a finite number <= 1e+15"),
])
def test_a_bad_number_says_where_which_what_and_what_was_expected(raw, kwargs, expected):
    with pytest.raises(InvalidInputError) as info:
        Options({"k": raw}, "remote model 'm'").number("k", **kwargs)
    assert str(info.value) == f"remote model 'm': option k={raw!r}: {expected}"


def test_flags_take_the_usual_words_and_typed_values():
    options = Options({"a": "Yes", "b": "off", "c": False, "d": "maybe"})
    assert (options.flag("a"), options.flag("b"), options.flag("c"), options.flag("x", None)) == (True, False, False, None)
    with pytest.raises(InvalidInputError, match="option d='maybe': expected true or false"):
        options.flag("d")


def test_unknown_options_are_named_with_the_allowed_ones():
    spec = parse_spec("qwen-prm:d?colour=red&Device=cpu&size=2", PREFIXES)
    with pytest.raises(InvalidInputError) as info:
        spec.options.check(("device", "dtype"))
    assert str(info.value) == ("unknown options colour, size in 'qwen-prm:d?colour=red&Device=cpu&size=2'; "
                               "allowed: device, dtype")
    assert dict(spec.options.without("colour", "size").check(("device",))) == {"device": "cpu"}


def test_unreadable_options_and_bad_urls_are_errors():
    with pytest.raises(InvalidInputError, match="key=value pairs"):
        parse_spec("qwen-prm:d?&&", PREFIXES)
    with pytest.raises(InvalidInputError, match="must start with http"):
        parse_spec("vllm-prm:m@ftp://a/v1", PREFIXES, urls=True)


def test_a_route_is_read_with_the_one_spec_grammar():
    from rewardspec.methods.routing import parse_route

    with pytest.raises(InvalidInputError, match="unknown option"):
        parse_route("head:q?target_below=0.2&sideways=1")
    with pytest.raises(InvalidInputError, match="option force='maybe': expected true or false"):
        parse_route("head:q?target_below=0.2&force=maybe")
    with pytest.raises(InvalidInputError, match="write head:PATH_OR_NAME"):
        parse_route("q?target_below=0.2")
