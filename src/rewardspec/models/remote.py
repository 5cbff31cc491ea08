"""LanguageModel over any OpenAI-compatible server: vLLM, SGLang, the llama.cpp servers.

How a step is written, and why:

* **The prompt is rendered here**, from the model's own chat template (the
  GGUF's, or a tokenizer directory's), and sent to ``/v1/completions`` with
  the response written so far appended: exactly the text the in-process
  backends tokenize. Servers' chat endpoints cannot continue a half-written
  assistant turn in general (``continue_final_message`` is vLLM's and SGLang's).
* **The step is cut here**, not by a server stop string. The completion is
  streamed and read through the same :class:`~rewardspec.steps.StepCutter`
  as in-process decoding; at the separator (or a loop) the stream is closed
  and the server stops generating. A server stop string would hide whether a
  step ended on the separator or on end-of-sequence: llama-cpp-python's
  server reports ``finish_reason: "stop"`` for both and drops the stop
  string (``include_stop_str_in_output`` is vLLM's, ``no_stop_trim`` SGLang's). ``".\\n\\n"``
  merged into one token is cut after it, as in-process.
* **Tokens**: one streamed chunk is one token on the llama.cpp servers
  and on vLLM (without speculative decoding). End-of-sequence counts as one
  generated token, as in-process. Prompt tokens are counted with the local
  tokenizer, assuming the server caches the prefix it saw for this chat
  (vLLM's and llama.cpp's prefix caches do): only text past the last request
  of the same chat counts as processed. A stream that runs to its end
  (end-of-sequence, budget) brings the server's ``usage``; where it reports
  ``prompt_tokens_details.cached_tokens`` (vLLM with prefix caching), that
  count is used instead; llama-server says it in every chunk (``timings_per_token``),
  so its count holds for steps closed early too. ``params`` comes from the config or the template
  GGUF, since servers do not report it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import httpx

from rewardspec.endpoints import (
    EndpointPool,
    RemoteEngineError,
    RemoteUnavailableError,
    RetryableError,
    describe_failure,
    json_reply,
    post,
    raise_for_status,
    session_key,
    sse_chunks,
)
from rewardspec.errors import InvalidInputError, MissingPackageError
from rewardspec.models.base import ContinuationScore, Message, SamplingParams
from rewardspec.prompts import plain_prompt
from rewardspec.remote_spec import SPEC_PREFIX, RemoteSpec, api_key_of
from rewardspec.steps import StepCutter
from rewardspec.types import Generation, Lookahead

__all__ = ["ChatRenderer", "RemoteModel", "RemoteSpec", "api_key_of", "load_remote", "role_spec"]

log = logging.getLogger(__name__)

def sampling_fields(sampling: SamplingParams, top_k_off: int = 0) -> dict:
    """The request's top_k, min_p and repetition penalty, always sent (llama-cpp-python's server
    otherwise applies a repeat penalty of 1.1, min_p 0.05 and top_k 40, and vLLM a model's
    generation_config), under every server's name for it:
    ``repetition_penalty`` (vLLM, SGLang) and ``repeat_penalty`` (llama.cpp's servers, whose
    penalty looks back over the last 64 tokens, not the whole sequence). ``top_k_off`` is how the
    server spells "no top-k": 0 for the llama.cpp servers and vLLM, -1 for SGLang."""
    return {"top_k": sampling.top_k if sampling.top_k > 0 else top_k_off, "min_p": sampling.min_p,
            "repetition_penalty": sampling.repetition_penalty, "repeat_penalty": sampling.repetition_penalty}


def role_spec(value: object) -> object:
    """A YAML role written as a mapping (``backend: openai``, ``model``, ``base_urls``, …) -> its spec."""
    if not isinstance(value, dict):
        return value
    fields = dict(value)
    backend = fields.pop("backend", SPEC_PREFIX)
    if backend != SPEC_PREFIX:
        raise InvalidInputError(f"a role written as a mapping is a remote model: backend must be "
                                f"'{SPEC_PREFIX}', not '{backend}'")
    unknown = sorted(set(fields) - {"model", "base_urls", "base_url", *RemoteSpec.OPTIONS})
    if unknown:
        raise InvalidInputError(f"unknown field(s) in a remote role: {', '.join(unknown)}")
    urls = fields.pop("base_urls", None) or fields.pop("base_url", None)
    fields.pop("base_url", None)
    if "model" not in fields or not urls:
        raise InvalidInputError("a remote role needs 'model' and at least one URL in 'base_urls'")
    return RemoteSpec.from_fields(base_urls=urls, **fields).to_spec()


class ChatRenderer:
    """The model's chat template and tokenizer, held locally (a GGUF read vocabulary-only,
    or a transformers tokenizer), so prompts and counts match the in-process backends."""

    def __init__(self, source: str) -> None:
        from rewardspec.registry import lookup, resolve_gguf

        self.params = 0
        self._lock = threading.Lock()  # tokenizers are not safe to call from several threads
        if lookup(source) is not None or source.endswith(".gguf") or ".gguf:" in source:
            from rewardspec.models.llama_cpp import _import_llama, chat_formatter

            llama_cpp, _ = _import_llama()
            path, _ = resolve_gguf(source)
            self._llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
            self._formatter = chat_formatter(self._llm)
            self.params = int(self._llm._model.n_params())
            self._hf = None
        else:
            try:
                from transformers import AutoTokenizer
            except ImportError as exc:
                raise MissingPackageError("a tokenizer directory as template needs transformers") from exc
            self._hf = AutoTokenizer.from_pretrained(source)
            self._llm = None

    def prompt(self, messages: list[Message]) -> str:
        with self._lock:
            return self._prompt(messages)

    def _prompt(self, messages: list[Message]) -> str:
        if self._hf is not None:
            return self._hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        if self._formatter is None:
            return plain_prompt(messages)
        return self._formatter(messages=messages).prompt

    def count(self, text: str) -> int:
        if not text:
            return 0
        with self._lock:
            return self._count(text)

    def _count(self, text: str) -> int:
        if self._hf is not None:
            return len(self._hf(text, add_special_tokens=False)["input_ids"])
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))


class RemoteModel:
    """One model behind one or more OpenAI-compatible servers. Thread-safe, no model lock:
    concurrency is bounded per endpoint (``max_in_flight``), not serialised."""

    def __init__(self, spec: RemoteSpec, pool: EndpointPool | None = None,
                 renderer: ChatRenderer | None = None) -> None:
        self.spec = spec
        self.name = spec.model
        api_key_of(spec)  # a missing key variable fails before the template is read
        template = spec.template or spec.model
        try:
            self.renderer = renderer or ChatRenderer(template)
        except Exception as exc:
            raise InvalidInputError(
                f"remote model '{spec.model}': cannot read a chat template from '{template}' ({exc}); "
                "set template= to an embedded name, a GGUF file or a tokenizer directory"
            ) from None
        self.params = spec.params or self.renderer.params
        self.pool = pool or spec.pool()
        self._seen: OrderedDict[str, str] = OrderedDict()  # session -> text the server has cached
        self._seen_lock = threading.Lock()
        self._top_k_off = 0
        """How this server spells "no top-k": 0, until a server refuses it (SGLang: -1)."""
        self._echo_ok = True
        """Whether this server's echoed log-probabilities passed the check (rewrite reuse)."""
        self._unreadable = 0
        """Echo replies in a row that could not be read; at UNREADABLE_LIMIT the server is asked no more."""

    # -- start-up ------------------------------------------------------------
    def check(self) -> None:
        """Every endpoint answers, accepts the key and serves this model; one clear line if not."""
        self.pool.check(self.spec.model, self.spec.api_key_env)

    # -- LanguageModel ---------------------------------------------------------
    def generate_step(self, messages: list[Message], response_prefix: str, sampling: SamplingParams) -> Generation:
        if sampling.max_tokens <= 0:
            return Generation("", 0, 0, "length", [])
        session = session_key(messages)
        prompt = self.renderer.prompt(messages) + response_prefix
        checked = self._check_proposal(session, prompt, sampling) if self._can_check(sampling) else None
        kept = checked.kept if checked else []
        kept_text = "".join(piece for piece, _ in kept)
        if checked is not None and checked.ended is not None:  # the step ends inside what the target kept
            text, tokens, logprobs, finish, usage = checked.ended.text, len(kept), [lp for _, lp in kept], \
                checked.ended.reason, None
        else:
            body = {"model": self.spec.model, "prompt": prompt + kept_text,
                    "max_tokens": sampling.max_tokens - len(kept), "temperature": sampling.temperature,
                    "top_p": sampling.top_p, "stream": True, "stream_options": {"include_usage": True},
                    **sampling_fields(sampling, self._top_k_off)}
            if self.spec.seed:
                body["seed"] = sampling.seed
            if self.spec.logprobs:
                body["logprobs"] = 1
            pieces = [piece for piece, _ in kept]
            try:
                text, tokens, logprobs, finish, usage = self.pool.call(
                    "completion", session, lambda endpoint: self._stream_step(endpoint, body, sampling, pieces))
            except RemoteEngineError as exc:
                if body["top_k"] != 0 or "top_k" not in str(exc):
                    raise
                self._top_k_off = body["top_k"] = -1  # SGLang refuses top_k 0 and spells "off" -1
                text, tokens, logprobs, finish, usage = self.pool.call(
                    "completion", session, lambda endpoint: self._stream_step(endpoint, body, sampling, pieces))
            tokens += len(kept)
            logprobs = [lp for _, lp in kept] + logprobs
        processed = self._processed(session, prompt + kept_text, text[len(kept_text):])
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") if usage else None
        if cached is not None and usage.get("prompt_tokens"):  # the server says what its cache held
            processed = max(1, int(usage["prompt_tokens"]) - int(cached))
        if checked is not None:
            processed += checked.prompt_processed
        gen = Generation(text, tokens, processed, finish, logprobs if self.spec.logprobs else None)
        if checked is not None:
            gen.lookahead = checked.lookahead()
        return gen

    # -- rewrite reuse: one echo request checks a proposal ---------------------
    def _can_check(self, sampling: SamplingParams) -> bool:
        """Greedy only: a server's random draw cannot be replayed, so a sampled rewrite is written
        from scratch; and not on a server whose echoed log-probabilities failed the check."""
        if sampling.proposal and self._echo_ok and any(e.llama_server for e in self.pool.endpoints):
            self._no_echo("llama.cpp's llama-server echoes no prompt log-probabilities")  # no request needed to see
        return bool(sampling.proposal) and sampling.temperature == 0 and self._echo_ok

    def _check_proposal(self, session: str, prompt: str, sampling: SamplingParams) -> _Checked | None:
        """The target's greedy choice at every token of the proposal, from one ``echo`` request
        with ``logprobs=1``: the longest prefix where the proposal's token is the top one. None
        when the server answered 4xx (no request was served); a check that kept nothing when
        its reply cannot be used, so that what the request cost is still counted."""
        body = {"model": self.spec.model, "prompt": prompt + sampling.proposal, "max_tokens": 1, "echo": True,
                "logprobs": 1, "temperature": 0, **sampling_fields(sampling, self._top_k_off)}
        started = time.perf_counter()
        try:
            data = self.pool.call("echo", session, lambda endpoint: self._echo(endpoint, body))
        except RemoteUnavailableError:
            raise  # the server is down: writing the step would fail the same way
        except RemoteEngineError as exc:  # refused; for echo itself, stop asking; else this step only
            if "top_k" in str(exc) and self._top_k_off == 0:
                self._top_k_off = -1  # SGLang spells "no top-k" -1
            elif re.search(r"echo|logprob", str(exc), re.IGNORECASE):
                self._no_echo(f"the server refused echo with logprobs ({str(exc)[:160]})")
            return None
        seconds = time.perf_counter() - started
        assumed = self._processed(session, prompt, "")  # past the server's cache, if it used it
        self._processed(session, prompt + sampling.proposal, "")  # the proposal is cached now too
        found = echoed_proposal(data, len(prompt), sampling.proposal)
        offered, kept = (0, []) if isinstance(found, Unusable) else found
        if isinstance(found, Unusable):
            self._unreadable += 1
            if found.server_wide:
                self._no_echo(found.reason)
            elif self._unreadable >= UNREADABLE_LIMIT:  # e.g. llama-cpp-python's shifted echo, every time
                self._no_echo(f"{UNREADABLE_LIMIT} echo replies in a row could not be read (last: {found.reason})")
            assumed += self.renderer.count(sampling.proposal)  # read, and none of it kept
        else:
            self._unreadable = 0
        usage = data.get("usage") or {}
        if usage.get("prompt_tokens"):  # what the server says it read (vLLM skips its cache here)
            read = int(usage["prompt_tokens"]) - int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
            assumed = max(0, read - offered)
        checked = _Checked(offered=min(offered, sampling.max_tokens), kept=[], seconds=seconds,
                           prompt_processed=assumed)
        cutter = StepCutter(sampling.separator, sampling.stop, sampling.repetition_limit)
        for piece, logprob in kept[: sampling.max_tokens]:
            checked.kept.append((piece, logprob))
            cut = cutter.push(piece, hash(piece))
            if cut is not None:
                checked.ended = cut
                break
        else:
            if kept and len(checked.kept) == sampling.max_tokens:
                checked.ended = _Ending(cutter.text, "length")
        return checked

    def _no_echo(self, why: str) -> None:
        if self._echo_ok:
            log.warning("%s: rejected steps are written from scratch: %s", self.name, why)
        self._echo_ok = False

    def _stream_step(self, endpoint, body: dict, sampling: SamplingParams, kept: list[str] = ()):
        if endpoint.llama_server:  # each chunk then says how much of the prompt its cache held
            body = {**body, "timings_per_token": True}
        cutter = StepCutter(sampling.separator, sampling.stop, sampling.repetition_limit)
        for piece in kept:  # what the target kept of a proposal: its step goes on from there
            cutter.push(piece, hash(piece))
        tokens, logprobs, finish, usage = 0, [], "length", None
        try:
            with endpoint.client.stream("POST", "/completions", json=body) as response:
                raise_for_status(endpoint.url, response)
                ended = False
                for chunk in sse_chunks(response):
                    if "error" in chunk:  # vLLM reports a failure mid-stream as an event
                        raise RetryableError(f"the server failed mid-stream: {str(chunk['error'])[:200]}")
                    usage = chunk.get("usage") or timings_usage(chunk.get("timings")) or usage
                    choice = (chunk.get("choices") or [{}])[0]
                    piece = choice.get("text") or ""
                    chunk_logprobs = chunk_token_logprobs(choice.get("logprobs"))
                    reason = choice.get("finish_reason")
                    if reason == "stop" and not piece and chunk_logprobs:
                        # SGLang sends end-of-sequence as a chunk of its own, with its log-probability:
                        # counted below, as every backend counts it, and not twice.
                        chunk_logprobs = []
                    if piece or chunk_logprobs:
                        tokens += max(1, len(chunk_logprobs))
                        logprobs += [float(x) for x in chunk_logprobs if x is not None]
                        cut = cutter.push(piece, hash(piece))
                        if cut is not None:  # closing the stream stops the server
                            return cut.text, tokens, logprobs, cut.reason, usage
                    if reason:
                        if reason not in ("stop", "length"):  # SGLang's "abort", or anything new
                            raise RetryableError(f"the server ended the step with finish_reason '{reason}'")
                        finish, ended = ("length" if reason == "length" else "eos"), True
        except httpx.HTTPError as exc:
            raise RetryableError(describe_failure(exc)) from None
        if not ended:
            raise RetryableError("the stream ended before the server said why (llama-cpp-python's server "
                                 "cuts a stream when another request arrives unless started with "
                                 "--interrupt_requests false)")
        if finish == "eos":
            tokens += 1  # end-of-sequence was generated, as the in-process backends count it
        return cutter.text, tokens, logprobs, finish, usage

    def _processed(self, session: str, prompt: str, generated: str) -> int:
        """Prompt tokens the server had to process, its prefix cache assumed: text past what
        this chat last sent and received."""
        with self._seen_lock:
            seen = self._seen.pop(session, "")
            self._seen[session] = prompt + generated
            while len(self._seen) > 4096:
                self._seen.popitem(last=False)
        if seen and prompt.startswith(seen):
            new = prompt[len(seen):]
        else:
            new = prompt[len(os.path.commonprefix([seen, prompt])):] if seen else prompt
        return max(1, self.renderer.count(new))  # the server re-reads at least the last token

    def score_continuation(self, messages: list[Message], response_prefix: str,
                           continuation: str) -> ContinuationScore:
        """Log-probabilities of ``continuation`` via ``echo`` (the server must return prompt logprobs)."""
        prompt = self.renderer.prompt(messages) + response_prefix
        body = {"model": self.spec.model, "prompt": prompt + continuation, "max_tokens": 1, "echo": True,
                "logprobs": 1, "temperature": 0}
        try:
            data = self.pool.call("echo", session_key(messages), lambda endpoint: self._echo(endpoint, body))
        except EchoRefused as exc:
            raise RemoteEngineError(f"{self.name}: {exc}; {SCORE_ELSEWHERE}") from None
        values = ((data["choices"][0] or {}).get("logprobs") or {}).get("token_logprobs") or []
        prompt_tokens = int((data.get("usage") or {}).get("prompt_tokens") or 0)
        if not values or not prompt_tokens:
            why = ("llama.cpp's llama-server never returns them" if any(e.llama_server for e in self.pool.endpoints)
                   else "llama-cpp-python's server needs --logits_all true, and llama.cpp's llama-server never returns them")
            raise RemoteEngineError(f"{self.name}: the server returned no prompt log-probabilities ({why}); "
                                    f"{SCORE_ELSEWHERE}")
        wanted = self.renderer.count(prompt + continuation) - self.renderer.count(prompt)
        echoed = values[:prompt_tokens]  # some servers add the generated token's entry
        picked = [float(v) for v in echoed[len(echoed) - wanted:] if v is not None] if wanted > 0 else []
        return ContinuationScore(picked, self._processed(session_key(messages), prompt, ""))

    def _echo(self, endpoint, body: dict) -> dict:
        """An ``echo`` request. llama.cpp's llama-server answers every one with HTTP 500 "Only no
        echo is supported": a refusal, not a failure, so it is not retried nor the server taken out."""
        try:
            return self._post(endpoint, "/completions", body)
        except RetryableError as exc:
            if "no echo is supported" not in str(exc):
                raise
            raise EchoRefused(f"{endpoint.url} refused echo: llama.cpp's llama-server returns no "
                              "prompt log-probabilities") from None

    def _post(self, endpoint, path: str, body: dict) -> dict:
        return json_reply(endpoint.url, post(endpoint, path, body))


class EchoRefused(RemoteEngineError):
    """The server answered an ``echo`` request with a refusal dressed as HTTP 500."""


UNREADABLE_LIMIT = 3
"""A reply that cannot be read may be this proposal's fault (a token across its start); three in a
row are the server's, and each costs a request."""

SCORE_ELSEWHERE = ("score with the model in-process or on vLLM, or use the draft's own log-probabilities "
                   "(--reward likelihood)")


def timings_usage(timings: dict | None) -> dict | None:
    """llama-server's per-chunk ``timings`` (``timings_per_token``) as the ``usage`` it amounts to:
    ``prompt_n`` tokens read and ``cache_n`` found in the slot's cache. The only count a server
    gives of a stream closed at the step's end, before its final ``usage`` chunk."""
    if not isinstance(timings, dict) or timings.get("prompt_n") is None:
        return None
    read, cached = int(timings["prompt_n"]), int(timings.get("cache_n") or 0)
    return {"prompt_tokens": read + cached, "prompt_tokens_details": {"cached_tokens": cached}}


def chunk_token_logprobs(logprobs: dict | None) -> list:
    """A streamed chunk's token log-probabilities, in either shape servers send: the completions
    API's ``token_logprobs`` list (vLLM, SGLang, llama-cpp-python) or the chat API's ``content``
    list of ``{token, logprob}`` (llama.cpp's llama-server on /v1/completions too)."""
    if not logprobs:
        return []
    if logprobs.get("token_logprobs") is not None:
        return logprobs["token_logprobs"]
    return [entry.get("logprob") for entry in logprobs.get("content") or [] if isinstance(entry, dict)]


@dataclass
class _Ending:
    text: str
    reason: str


@dataclass
class _Checked:
    """What an echo request found: proposal tokens checked, and the kept ones (text, logprob)."""

    offered: int
    kept: list[tuple[str, float]]
    seconds: float
    prompt_processed: int = 0
    """Prompt tokens the echo request read before the proposal (past the server's cache)."""
    ended: object | None = None
    """A cut (or the budget) reached inside the kept tokens: the step needs no more decoding."""

    def lookahead(self) -> Lookahead:
        # Over HTTP the check is a pass of its own: it saves one pass less than the tokens kept,
        # and costs one where none was kept.
        return Lookahead(rewrite_offered=self.offered, rewrite_accepted=len(self.kept), verify_passes=1,
                         verify_seconds=self.seconds, passes_saved=len(self.kept) - 1)


@dataclass(frozen=True)
class Unusable:
    """Why an echo reply cannot be read, and whether that holds for every reply of this server."""

    reason: str
    server_wide: bool


def echoed_proposal(data: dict, start: int, proposal: str) -> tuple[int, list[tuple[str, float]]] | Unusable:
    """From an ``echo`` reply over prompt + proposal (the proposal from character ``start``): how many tokens
    the proposal has, and the prefix of them the model ranks first, with their log-probabilities.
    :class:`Unusable` where the reply cannot be trusted: for every reply of the server when it has
    no per-token alternatives or its entries disagree with themselves, as the one-position shift
    of llama-cpp-python 0.3.36's server does (the first token must have no log-probability, and a
    token listed among the alternatives must carry its own log-probability there); for this reply
    only when a token straddles the proposal's start or the tokens do not spell it."""
    lp = ((data.get("choices") or [{}])[0] or {}).get("logprobs") or {}
    tokens, values, tops, offsets = (lp.get(k) for k in ("tokens", "token_logprobs", "top_logprobs", "text_offset"))
    if not (tokens and values and tops and offsets) or not (len(tokens) == len(values) == len(tops) == len(offsets)):
        return Unusable("the reply has no per-token log-probabilities and alternatives", True)
    if values[0] is not None:
        return Unusable("the first echoed token has a log-probability: the entries are shifted by one position",
                        True)
    if all(o is None or o < 0 for o in offsets):  # SGLang 0.5 sends -1: rebuild them as vLLM defines them
        offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
    base, end = offsets[0], start + len(proposal)
    positions = []
    for i, (token, offset) in enumerate(zip(tokens, offsets)):
        at = offset - base
        if at < start < at + len(token):
            return Unusable("a token spans the end of the prompt and the start of the proposal", False)
        if start <= at < end:
            positions.append(i)
    if not positions:
        return Unusable("the server did not echo the prompt back", True)
    if "".join(tokens[i] for i in positions) != proposal:
        return Unusable("the echoed tokens do not spell the proposal", False)
    kept: list[tuple[str, float]] = []
    parted = False
    for i in positions:
        top, token, value = tops[i] or {}, tokens[i], values[i]
        if token in top and value is not None and abs(float(top[token]) - float(value)) > 1e-3:
            return Unusable("an echoed token's log-probability differs from its own entry among the alternatives",
                            True)
        if not parted and top and max(top, key=top.get) == token and value is not None:
            kept.append((token, float(value)))
        else:
            parted = True
    return len(positions), kept


def load_remote(source: str) -> RemoteModel:
    model = RemoteModel(RemoteSpec.parse(source))
    model.check()
    return model
