"""Reading a YAML or JSON settings file, for every command that takes ``--config``.

Whatever is wrong with the file (missing, unreadable, not UTF-8, not valid
YAML or JSON, not a mapping) becomes one line naming the file, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from rewardspec.errors import InvalidInputError


def read_settings(path: str | Path, what: str = "config", error: type[InvalidInputError] = InvalidInputError
                  ) -> dict[str, Any]:
    """The mapping in a ``.json`` file, or in a YAML file (any other suffix); empty gives {}."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"{path}:{line}: the {what} is not UTF-8 text (byte {raw[exc.start]:#04x})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text) if text.strip() else None
        except json.JSONDecodeError as exc:
            raise error(f"{path}: not valid JSON ({' '.join(str(exc).split())})") from None
    else:
        try:
            import yaml
        except ImportError:  # pragma: no cover - pyyaml is a dependency
            raise error(f"{path}: reading YAML needs PyYAML (pip install pyyaml), or write it as JSON") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise error(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    return expand_environment(data, path, error)


# Only ${UPPER_CASE} names: a lone "$" or "${}^{14}C$" in a LaTeX prompt stays as written.
_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


def expand_environment(value: Any, path: Path, error: type[InvalidInputError] = InvalidInputError) -> Any:
    """``${NAME}`` in any string of a config, from the environment, so one file serves many
    machines (model directories, ports); an unset name is an error, not an empty string."""
    if isinstance(value, dict):
        return {k: expand_environment(v, path, error) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_environment(v, path, error) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def lookup(match: re.Match[str]) -> str:
        if match.group(1) not in os.environ:
            raise error(f"{path}: the environment variable {match.group(1)} is not set")
        return os.environ[match.group(1)]

    return _VARIABLE.sub(lookup, value)
