"""``rewardspec serve``: RSD behind an OpenAI-compatible HTTP API.

The web stack (FastAPI, uvicorn) is imported only when the server is built,
so ``rewardspec.serve.config`` stays usable without the ``serve`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rewardspec.errors import MissingPackageError
from rewardspec.serve.config import ConfigError, ServeConfig, load_config, parse_config

if TYPE_CHECKING:  # pragma: no cover
    from rewardspec.serve.app import create_app, run_server

__all__ = ["ConfigError", "ServeConfig", "create_app", "load_config", "parse_config", "run_server"]


def _app_module():
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise MissingPackageError(
            f"rewardspec serve needs FastAPI and uvicorn ({exc.name} is missing); install "
            "them with: pip install 'rewardspec[serve]'"
        ) from None
    from rewardspec.serve import app

    return app


def __getattr__(name: str) -> Any:
    if name in ("create_app", "run_server"):
        return getattr(_app_module(), name)
    raise AttributeError(name)
