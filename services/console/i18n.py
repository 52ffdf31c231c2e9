"""Message catalogues (config/i18n/<locale>.yaml) and the translate function templates call.

English is the fallback: a key missing in Japanese shows in English, never as a raw key, and a
unit test keeps both catalogues holding the same keys.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

CATALOGUE_DIR = Path(__file__).parent / "config" / "i18n"
LOCALES = ("ja", "en")
FALLBACK = "en"


class CatalogueError(ValueError):
    pass


def load_catalogues(directory: Path = CATALOGUE_DIR) -> dict[str, dict[str, str]]:
    catalogues: dict[str, dict[str, str]] = {}
    for locale in LOCALES:
        path = directory / f"{locale}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise CatalogueError(f"{path}: must be a mapping of message key -> text")
        flat = _flatten(data)
        bad = [k for k, v in flat.items() if not isinstance(v, str)]
        if bad:
            raise CatalogueError(f"{path}: field '{bad[0]}' must be a string")
        catalogues[locale] = flat
    return catalogues


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def translator(catalogues: dict[str, dict[str, str]], locale: str) -> Callable[..., str]:
    own = catalogues.get(locale, {})
    fallback = catalogues[FALLBACK]

    def t(key: str, default: str | None = None, **values: object) -> str:
        """``default`` is for open vocabularies (a service's status names): shown as is when unknown."""
        text = own.get(key) or fallback.get(key)
        if text is None:
            return default if default is not None else key
        return text.format(**values) if values else text

    return t


def pick_locale(*, chosen: str | None, user_locale: str | None, accept_language: str, default: str) -> str:
    """The CSM's explicit choice, then their profile, then the browser's first known language."""
    for candidate in (chosen, user_locale):
        if candidate in LOCALES:
            return candidate  # type: ignore[return-value]
    for part in accept_language.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LOCALES:
            return code
    return default if default in LOCALES else FALLBACK
