"""The class -> city event category mapping, read from a TOML file (defaults shipped beside this module)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.dedupe import MergeRule
from pipeline.errors import CaseError

DEFAULT_PATH = Path(__file__).with_name("categories.toml")


@dataclass(frozen=True)
class Category:
    class_name: str
    service_code: str
    service_name: str
    category: str
    category_code: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    typical_size_m: float = 6.0


@dataclass(frozen=True)
class CategoryConfig:
    categories: tuple[Category, ...]
    gps_error_m: float = 8.0
    error_factor: float = 0.35

    def for_class(self, class_name: str) -> Category:
        for cat in self.categories:
            if cat.class_name == class_name:
                return cat
        # An unmapped class still becomes a case (nothing is dropped); it is flagged by its empty code.
        return Category(class_name, "", class_name, "", "")

    def by_service_code(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.service_code == code), None)

    def merge_rules(self) -> dict[str, MergeRule]:
        return {
            c.class_name: MergeRule(self.gps_error_m, c.typical_size_m, self.error_factor)
            for c in self.categories
        }

    def default_rule(self) -> MergeRule:
        return MergeRule(self.gps_error_m, error_factor=self.error_factor)


def load_categories(path: Path | None = None) -> CategoryConfig:
    path = path or DEFAULT_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise CaseError(f"cannot read category config: {err.strerror or err}", str(path)) from err
    except tomllib.TOMLDecodeError as err:
        raise CaseError(f"category config is not valid TOML: {err}", str(path)) from err
    classes: dict[str, Any] = data.get("classes", {})
    cats = []
    for name, entry in classes.items():
        try:
            cats.append(
                Category(
                    class_name=name,
                    service_code=str(entry["service_code"]),
                    service_name=str(entry["service_name"]),
                    category=str(entry["category"]),
                    category_code=str(entry.get("category_code", "")),
                    description=str(entry.get("description", "")),
                    keywords=tuple(str(k) for k in entry.get("keywords", ())),
                    typical_size_m=float(entry.get("typical_size_m", 6.0)),
                )
            )
        except (KeyError, TypeError, ValueError) as err:
            raise CaseError(f"class {name!r}: missing or bad field {err}", str(path)) from err
    codes = [c.service_code for c in cats]
    if len(set(codes)) != len(codes):
        raise CaseError("two classes share one service_code", str(path))
    dedupe = data.get("dedupe", {})
    try:
        gps_error = float(dedupe.get("gps_error_m", 8.0))
        factor = float(dedupe.get("error_factor", 0.35))
    except (TypeError, ValueError) as err:
        raise CaseError(f"[dedupe]: {err}", str(path)) from err
    if not (gps_error > 0 and 0 < factor <= 5):
        raise CaseError("[dedupe]: gps_error_m must be > 0 and error_factor in (0, 5]", str(path))
    return CategoryConfig(tuple(cats), gps_error, factor)
