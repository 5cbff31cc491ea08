"""The OpenAI-compatible HTTP API (FastAPI): models, chat and text completions, health.

Served model ids (``GET /v1/models``): ``<model_id>`` (default ``rsd``) runs the
method named by the request's ``method`` field (default: the config's
``default_method``), and ``<model_id>-target`` / ``<model_id>-draft`` pin the
single-model baselines, for clients that can only choose a model name.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rewardspec import __version__
from rewardspec.errors import RewardspecError
from rewardspec.methods.base import DecodeConfig
from rewardspec.models.base import Message
from rewardspec.serve import responses as fmt
from rewardspec.serve.config import ServeConfig
from rewardspec.serve.metrics import CONTENT_TYPE_LATEST
from rewardspec.serve.scheduling import (
    ChoiceEvent,
    ChoiceSpec,
    ClientGone,
    Engine,
    ErrorEvent,
    Job,
    Overloaded,
    ShuttingDown,
    StepEvent,
)
from rewardspec.serve.schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    RequestBase,
    error_body,
)

log = logging.getLogger("rewardspec.serve")

_STATUS_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                 404: "invalid_request_error", 405: "invalid_request_error",
                 422: "invalid_request_error", 429: "rate_limit_error",
                 500: "server_error", 503: "server_error"}


class ApiError(Exception):
    """An error answered in OpenAI's format: {"error": {message, type, param, code}}."""

    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None, type: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = type or _STATUS_TYPES.get(status, "server_error")
        self.headers = headers
        self.method: str | None = None
        """The method the request asked for, where it got that far (for /metrics)."""

    def response(self) -> JSONResponse:
        return JSONResponse(error_body(self.message, self.type, self.param, self.code),
                            status_code=self.status, headers=self.headers)


def request_id(headers) -> str:
    """The client's X-Request-Id, or a fresh one: what a refusal's log line and reply share."""
    given = headers.get("x-request-id") if headers is not None else None
    return given[:128] if given else f"req-{secrets.token_hex(8)}"


def log_refusal(status: int, method: str, path: str, message: str, rid: str, param: str | None = None,
                code: str | None = None) -> None:
    """One line per refused request: what an operator needs to tell a client why it got a 4xx."""
    detail = ", ".join(f"{k} {v}" for k, v in (("param", param), ("code", code)) if v)
    log.warning("refused %s %s %s (request %s)%s: %s", status, method, path, rid,
                f" [{detail}]" if detail else "", message)


def refused(request: Request, error: ApiError) -> JSONResponse:
    rid = request_id(request.headers)
    log_refusal(error.status, request.method, request.url.path, error.message, rid, error.param, error.code)
    engine = getattr(request.app.state, "engine", None)
    if engine is not None and request.url.path.startswith("/v1/") and request.method == "POST":
        engine.metrics.record_request(error.method or "none", error.status)
    response = error.response()
    response.headers["x-request-id"] = rid
    return response


# -- turning a request into choices ---------------------------------------------
class Plan:
    """What a validated request asks for."""

    def __init__(self, body: RequestBase, model: str, method: str, delta: float,
                 decode: DecodeConfig, choices: list[ChoiceSpec]) -> None:
        self.body, self.model, self.method, self.delta = body, model, method, delta
        self.decode, self.choices = decode, choices
        self.id = ""
        self.created = int(time.time())


def _resolve_method(config: ServeConfig, body: RequestBase) -> str:
    ids = config.model_ids()
    if body.model not in ids:
        raise ApiError(404, f"the model '{body.model}' does not exist on this server; "
                            f"served models: {', '.join(ids)}", param="model",
                       code="model_not_found")
    pinned = ids[body.model]
    if pinned is not None and body.method is not None and body.method != pinned:
        raise ApiError(400, f"model '{body.model}' always runs method '{pinned}', but the "
                            f"request asks for method '{body.method}'; use model "
                            f"'{config.model_id}' to choose the method", param="method")
    method = pinned or body.method or config.default_method
    if method not in config.methods:
        raise ApiError(400, f"method '{method}' is not served here; served methods: "
                            f"{', '.join(config.methods)}", param="method")
    return method


def _chat_messages(body: ChatCompletionRequest) -> list[Message]:
    messages: list[Message] = []
    for i, m in enumerate(body.messages):
        if m.role in ("tool", "function"):
            raise ApiError(400, f"messages[{i}]: role '{m.role}' is not supported (this server "
                                "does no tool calling)", param=f"messages.{i}.role")
        if isinstance(m.content, list):
            texts = []
            for part in m.content:
                if part.type not in ("text", "input_text") or part.text is None:
                    raise ApiError(400, f"messages[{i}]: only text content is supported, got a "
                                        f"'{part.type}' part", param=f"messages.{i}.content")
                texts.append(part.text)
            content = "".join(texts)
        else:
            content = m.content or ""
        role = "system" if m.role == "developer" else m.role
        messages.append({"role": role, "content": content})
    if not any(m["role"] == "user" and m["content"].strip() for m in messages):
        raise ApiError(400, "messages must include a user message with some text",
                       param="messages")
    return messages


def _prompts(body: CompletionRequest) -> list[str]:
    prompt = body.prompt
    if isinstance(prompt, str):
        prompts = [prompt]
    elif all(isinstance(p, str) for p in prompt):
        prompts = list(prompt)  # type: ignore[arg-type]
    else:
        raise ApiError(400, "token-id prompts are not supported; send the prompt as text",
                       param="prompt")
    if not prompts:
        raise ApiError(400, "prompt must not be empty", param="prompt")
    for i, p in enumerate(prompts):
        if not p.strip():
            raise ApiError(400, f"prompt[{i}] is empty; send the question to answer",
                           param="prompt")
    return prompts


def plan_request(config: ServeConfig, body: RequestBase, questions: list[str | list[Message]],
                 max_tokens: int | None) -> Plan:
    """Validate the request against the server's limits and spell out its choices."""
    method = _resolve_method(config, body)
    bad = body.unsupported()
    if bad is not None:
        raise ApiError(400, bad[1], param=bad[0], code="unsupported_parameter")
    if method == "sd" and body.repetition_penalty not in (None, 1.0):
        raise ApiError(400, "method 'sd' decodes in llama.cpp's own loop, where our repetition penalty "
                            "cannot apply; leave repetition_penalty at 1 or choose another method",
                       param="repetition_penalty", code="unsupported_parameter")
    if max_tokens is None:
        max_tokens = config.default_max_tokens
    if max_tokens > config.max_tokens:
        raise ApiError(400, f"max_tokens is {max_tokens}, above this server's limit of "
                            f"{config.max_tokens}; ask for fewer tokens", param="max_tokens")
    total = body.n * len(questions)
    if total > config.max_n:
        raise ApiError(400, f"this request asks for {total} choices (n x prompts); this server "
                            f"allows at most {config.max_n}", param="n")
    # No seed: the config's, else a fresh one, reported back in each choice's rsd.seed to replay it.
    seed = next((x for x in (body.seed, config.seed) if x is not None), None)
    seed = secrets.randbelow(2**31) if seed is None else seed
    try:
        decode = config.decode_config(
            max_tokens=max_tokens,
            max_total_tokens=config.total_token_multiple * max_tokens,
            seed=seed,
            stop=body.stop_sequences(),
            system_prompt=config.system_prompt,
        )
        overrides = body.sampling_overrides()
        decode = dataclasses.replace(decode, **overrides) if overrides else decode
    except RewardspecError as exc:
        raise ApiError(400, str(exc)) from None
    choices = [ChoiceSpec(index=p * body.n + j, prompt_index=p, question=q, seed=seed + j)
               for p, q in enumerate(questions) for j in range(body.n)]
    delta = config.delta if body.rsd_delta is None else body.rsd_delta
    return Plan(body, body.model, method, delta, decode, choices)


# -- the app --------------------------------------------------------------------
def create_app(config: ServeConfig, engine: Engine | None = None) -> FastAPI:
    """The FastAPI app; loads the models now unless an ``engine`` is given."""
    engine = engine if engine is not None else Engine(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.shutdown()

    app = FastAPI(title="rewardspec", version=__version__, lifespan=lifespan,
                  description="Reward-Guided Speculative Decoding behind an OpenAI-compatible API")
    app.state.engine = engine
    app.state.config = config
    app.add_middleware(BodyLimit, limit=config.max_request_bytes)

    # -- errors: always OpenAI's format, never a traceback, one log line each ----
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return refused(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:  # noqa: N807
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return refused(_, ApiError(400, "the request body is not valid JSON", code="invalid_json"))
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        param = ".".join(loc) or None
        parts = []
        for e in errors[:5]:
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        return refused(_, ApiError(422, "invalid request: " + "; ".join(parts), param=param,
                                   code="validation_error"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        return refused(request, ApiError(exc.status_code, message, headers=getattr(exc, "headers", None)))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error: %s: %s", type(exc).__name__, exc)
        return ApiError(500, f"internal server error ({type(exc).__name__}); see the server "
                             "log").response()

    async def check_key(request: Request) -> None:
        if config.api_key:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, f"Bearer {config.api_key}".encode()):
                raise ApiError(401, "missing or wrong API key; send 'Authorization: Bearer "
                                    "<key>'", code="invalid_api_key")

    api = APIRouter(dependencies=[Depends(check_key)])

    # -- routes -----------------------------------------------------------------
    @app.get("/metrics")
    async def metrics() -> Response:
        # Open, as vLLM's and llama-server's are: a scraper holds no API key, and nothing here
        # is a request's content (docs/serving.md, "Metrics").
        return Response(engine.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "shutting_down" if engine.closing else "ok",
            "in_flight": engine.active,
            "max_concurrent_requests": config.max_concurrent_requests,
            "waiting": engine.waiting,
            "max_queued_requests": config.max_queued_requests,
            "models": engine.models(),
            "queued_calls": engine.queues(),
            "served": list(config.model_ids()),
            "stats": engine.stats.to_dict(),
        }

    def model_card(model_id: str, pinned: str | None) -> dict[str, Any]:
        return {
            "id": model_id, "object": "model", "created": 0, "owned_by": "rewardspec",
            "rsd": {"method": pinned or config.default_method,
                    "methods": [pinned] if pinned else list(config.methods),
                    "delta": config.delta, "rule": config.rule, **engine.models()},
        }

    @api.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list",
                "data": [model_card(i, p) for i, p in config.model_ids().items()]}

    @api.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str) -> dict[str, Any]:
        ids = config.model_ids()
        if model_id not in ids:
            raise ApiError(404, f"the model '{model_id}' does not exist on this server; served "
                                f"models: {', '.join(ids)}", param="model", code="model_not_found")
        return model_card(model_id, ids[model_id])

    @api.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request):
        messages = _chat_messages(body)
        max_tokens = body.max_completion_tokens or body.max_tokens
        plan = plan_request(config, body, [messages], max_tokens)
        plan.id = f"chatcmpl-{uuid.uuid4().hex}"
        return await _run(plan, request, chat=True)

    @api.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request):
        plan = plan_request(config, body, list(_prompts(body)), body.max_tokens)
        plan.id = f"cmpl-{uuid.uuid4().hex}"
        return await _run(plan, request, chat=False)

    app.include_router(api)

    # -- running a plan -------------------------------------------------------
    async def submit(plan: Plan, request: Request) -> Job:
        try:
            return await engine.submit(plan.choices, plan.method, plan.delta, plan.decode, request.is_disconnected)
        except Overloaded as busy:
            raise ApiError(429, f"the server is busy: {busy.why}; retry in {busy.retry_after} s",
                           code="too_many_concurrent_requests",
                           headers={"Retry-After": str(busy.retry_after)}) from None
        except ShuttingDown:
            raise ApiError(503, "the server is shutting down", code="shutting_down") from None

    def error_of(event: ErrorEvent) -> ApiError:
        if event.status == 499:  # cancelled while its client is still there: a shutdown
            return ApiError(503, "the request was cancelled: the server is shutting down",
                            code="shutting_down")
        return ApiError(event.status, event.message, type=event.type, code=event.code)

    async def _run(plan: Plan, request: Request, chat: bool):
        arrived = time.monotonic()
        try:
            return await _answer(plan, request, chat, arrived)
        except ApiError as error:
            error.method = plan.method
            raise

    async def _answer(plan: Plan, request: Request, chat: bool, arrived: float):
        metrics = engine.metrics
        try:
            job = await submit(plan, request)
        except ClientGone:
            log.info("client of %s went away while waiting in line", plan.id)
            metrics.record_request(plan.method, 499)
            return JSONResponse(error_body("client disconnected", "cancelled"), status_code=499)
        events = job.events(request.is_disconnected)
        streaming = False
        try:
            if plan.body.stream:
                # Wait for the first event so that an early failure (a prompt too long for
                # the context, say) still gets its own HTTP status, not a broken stream.
                first = await anext(events, None)
                if isinstance(first, ErrorEvent):
                    raise error_of(first)
                metrics.first_token.observe(time.monotonic() - arrived)
                response = StreamingResponse(_stream(plan, job, first, events, chat, arrived),
                                             media_type="text/event-stream",
                                             headers={"Cache-Control": "no-cache",
                                                      "X-Accel-Buffering": "no"})
                streaming = True  # from here on the stream owns the job
                return response
            results, first_seen = [], False
            async for event in events:
                if isinstance(event, ErrorEvent):
                    raise error_of(event)
                if not first_seen:
                    first_seen = True
                    metrics.first_token.observe(time.monotonic() - arrived)
                if isinstance(event, ChoiceEvent):
                    results.append(event.result)
        except ClientGone:
            log.info("client of %s went away; its work was cancelled", plan.id)
            metrics.record_request(plan.method, 499)
            return JSONResponse(error_body("client disconnected", "cancelled"), status_code=499)
        finally:
            if not streaming:
                job.cancel()  # no-op once the job has finished
        response = JSONResponse(fmt.full_response(reply_of(plan, chat), results))
        metrics.record_request(plan.method, 200, time.monotonic() - arrived)
        return response

    def reply_of(plan: Plan, chat: bool) -> fmt.Reply:
        return fmt.Reply(plan.id, plan.created, plan.model, plan.method, plan.delta, config.rule,
                         engine.models(), chat)

    async def _stream(plan: Plan, job: Job, first, events, chat: bool, arrived: float) -> AsyncIterator[str]:
        include_usage = bool(plan.body.stream_options and plan.body.stream_options.include_usage)
        chunks = fmt.StreamChunks(reply_of(plan, chat), include_usage)
        started: set[int] = set()
        streamed: dict[int, int] = {}  # steps sent per choice
        results = []

        async def all_events():
            if first is not None:
                yield first
            async for event in events:
                yield event

        try:
            async for event in all_events():
                if isinstance(event, ErrorEvent):
                    err = error_of(event)
                    yield chunks.error(error_body(err.message, err.type, None, err.code))
                    return
                index = event.choice if isinstance(event, StepEvent) else event.result.index
                if index not in started:
                    started.add(index)
                    if (opening := chunks.opening(index)) is not None:
                        yield opening
                if isinstance(event, StepEvent):
                    streamed[index] = event.step_index + 1
                    yield chunks.step(index, event.step_index, event.step)
                elif isinstance(event, ChoiceEvent):
                    results.append(event.result)
                    # Whatever a method did not report step by step is sent before it finishes,
                    # so a stream always carries the text the same request returns unstreamed.
                    steps = event.result.trace.steps
                    for i in range(streamed.get(index, 0), len(steps)):
                        engine.count_step()
                        yield chunks.step(index, i, steps[i])
                    yield chunks.finished(event.result)
            if (usage := chunks.usage(results)) is not None:
                yield usage
            yield chunks.DONE
            engine.metrics.record_request(plan.method, 200, time.monotonic() - arrived)
        except ClientGone:
            log.info("client of %s went away mid-stream; its work was cancelled", plan.id)
            engine.metrics.record_request(plan.method, 499)
        finally:
            job.cancel()

    return app


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, in OpenAI's error format.

    A declared Content-Length is checked before anything is read; a body sent
    without one is read up to the limit and then handed on as it came.
    """

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, send, int(declared))
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(scope, send, size)
                return
            if not message.get("more_body"):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope, send, size: int) -> None:
        message = (f"the request body is {size} bytes, above this server's limit of {self.limit} "
                   "(max_request_bytes in the server config)")
        payload = json.dumps(error_body(message, "invalid_request_error", None, "request_too_large")).encode()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        rid = request_id(headers)
        log_refusal(413, scope.get("method", "?"), scope.get("path", "?"), message, rid, code="request_too_large")
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"x-request-id", rid.encode("latin-1"))]})
        await send({"type": "http.response.body", "body": payload})


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_server(config_path: str | None = None, host: str | None = None, port: int | None = None,
               log_level: str = "info") -> None:
    """Load the config and the models, then serve until interrupted (``rewardspec serve``)."""
    import sys

    import uvicorn

    from rewardspec.serve.config import load_config, parse_config

    config = load_config(config_path)
    updates = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if updates:
        config = parse_config({**config.model_dump(), **updates}, "command line")
    print(f"rewardspec serve: loading {config.draft} (draft), {config.target} (target), "
          f"reward {config.reward}…", file=sys.stderr)
    app = create_app(config)
    if not is_loopback(config.host):
        print(f"rewardspec serve: warning: listening on {config.host}, reachable from other "
              f"machines{'' if config.api_key else ' without an API key'}", file=sys.stderr)
    print(f"rewardspec serve: http://{config.host}:{config.port}/v1 serves "
          f"{', '.join(config.model_ids())}", file=sys.stderr)
    uvicorn.run(app, host=config.host, port=config.port, log_level=log_level,
                timeout_graceful_shutdown=5)
