"""The slot for an operator's own model, chosen in ``[classifier]`` without changing code.

::

    [classifier]
    kind = "python"                      # default | python | http
    path = "acme_models.sentiment:build" # python: a factory returning an object with classify(text)
    options = { model_dir = "/srv/models" }  # python: keyword arguments for the factory

    [classifier]
    kind = "http"
    url = "http://127.0.0.1:9000/classify"   # POST {"text": ...} -> the classification JSON
    api_key = "${CLASSIFIER_KEY}"            # optional, sent as "Authorization: Bearer ..."
    timeout = 2.0

Both answer with :class:`Classification` (or its JSON), checked on every call.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from bridge.classify.model import Classification, Classifier
from bridge.errors import ConfigError, PermanentError, Unavailable

KINDS = ("default", "python", "http")


@dataclass(frozen=True)
class ClassifierSettings:
    """The ``[classifier]`` table, validated."""

    kind: str = "default"
    path: str | None = None
    url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 2.0
    options: Mapping[str, Any] = field(default_factory=dict)


def settings(table: Mapping[str, Any]) -> ClassifierSettings:
    """Validate a ``[classifier]`` table (secrets already revealed); errors name the key."""
    kind = table.get("kind", "default")
    if kind not in KINDS:
        raise ConfigError(f"classifier.kind: {kind!r} is not one of {', '.join(KINDS)}")
    unknown = set(table) - {"kind", "path", "url", "api_key", "timeout", "options"}
    if unknown:
        raise ConfigError(f"classifier.{sorted(unknown)[0]}: unknown key")
    if kind == "python" and not _is_dotted(table.get("path")):
        raise ConfigError("classifier.path: required for kind = 'python', as 'package.module:factory'")
    if kind == "http" and not str(table.get("url", "")).startswith(("http://", "https://")):
        raise ConfigError("classifier.url: required for kind = 'http', an http(s) URL")
    return ClassifierSettings(
        kind=kind,
        path=table.get("path"),
        url=table.get("url"),
        api_key=table.get("api_key"),
        timeout=_timeout(table.get("timeout", 2.0)),
        options=_options(table.get("options", {})),
    )


def _is_dotted(value: object) -> bool:
    if not isinstance(value, str) or value.count(":") != 1:
        return False
    module, attr = value.split(":")
    return all(part.isidentifier() for part in (*module.split("."), *attr.split(".")))


def _timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"classifier.timeout: {value!r} is not a number of seconds above 0")
    return float(value)


def _options(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError("classifier.options: must be a table")
    return value


def build_classifier(config: ClassifierSettings | None = None) -> Classifier:
    """The classifier that ``config`` names (the default one without configuration)."""
    config = config or ClassifierSettings()
    if config.kind == "python":
        return PythonClassifier(_made(config.path or "", config.options), source=config.path or "")
    if config.kind == "http":
        return HttpClassifier(config.url or "", api_key=config.api_key, timeout=config.timeout)
    from bridge.classify.default import LexiconClassifier

    return LexiconClassifier()


def load_factory(path: str) -> Callable[..., Any]:
    """Import ``package.module:factory``; a missing module or name is a :class:`ConfigError`."""
    module_name, _, attr = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"classifier.path: cannot import {module_name} ({e})") from None
    for part in attr.split("."):
        target = getattr(target, part, None)
    if not callable(target):
        raise ConfigError(f"classifier.path: {path} is not a callable factory")
    return target  # type: ignore[no-any-return]


def _made(path: str, options: Mapping[str, Any]) -> Any:
    """The operator's factory called with ``[classifier] options``; its failure (a function that wants other
    arguments, a model file missing) names the key, as a bad path does: it was ``TypeError: dumps() missing 1
    required positional argument``, with no word of the configuration."""
    factory = load_factory(path)
    try:
        return factory(**options)
    except Exception as e:  # the operator's code: anything it raises stops the start
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise ConfigError(f"classifier.path: {path}(**options) failed: {type(e).__name__}: {first}") from None


class PythonClassifier:
    """An operator's object with ``classify(text)``; its answers are checked like an endpoint's."""

    def __init__(self, model: Any, *, source: str) -> None:
        if not callable(getattr(model, "classify", None)):
            raise ConfigError(f"classifier.path: {source} returned an object without classify(text)")
        self._model = model
        self._source = source

    def classify(self, text: str) -> Classification:
        """Ask the operator's model; a :class:`Classification` or its JSON is accepted."""
        answer = self._model.classify(text)
        if isinstance(answer, Classification):
            return answer
        return Classification.from_json(answer, source=self._source)


#: Named by every failure of the endpoint: the one setting an operator can change about it.
URL_KEY = "classifier.url"


class HttpClassifier:
    """POST ``{"text": ...}`` to the operator's endpoint, which answers with the classification JSON."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 2.0,
                 session: requests.Session | None = None) -> None:  # fmt: skip
        self._url = url
        self._timeout = timeout
        self._session = session or requests.Session()
        if api_key:
            self._session.headers["Authorization"] = f"Bearer {api_key}"

    def __repr__(self) -> str:
        return f"HttpClassifier({self._url!r})"

    def classify(self, text: str) -> Classification:
        """One request per text; failures are :class:`Unavailable` (retryable) or :class:`PermanentError`."""
        try:
            response = self._session.post(self._url, json={"text": text}, timeout=self._timeout)
        except requests.RequestException as e:
            raise Unavailable(
                f"{URL_KEY}: the endpoint is unreachable ({type(e).__name__})", platform="classifier"
            ) from e
        if response.status_code == 429 or response.status_code >= 500:
            raise Unavailable(
                f"{URL_KEY}: the endpoint failed", platform="classifier", http_status=response.status_code
            )
        if response.status_code != 200:
            raise PermanentError(f"{URL_KEY}: the endpoint refused the text", platform="classifier",
                                 http_status=response.status_code)  # fmt: skip
        try:
            data = response.json()
        except ValueError:
            raise PermanentError(f"{URL_KEY}: the endpoint answered with no JSON", platform="classifier") from None
        return Classification.from_json(data, source="classifier")
