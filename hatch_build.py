"""Hatch build hook: compile the leaflet and web gettext catalogs (.po -> .mo) at build time.

Runs for wheels and for editable installs (`uv sync`), so a checkout never needs compiled
files in git. A catalog with errors fails the build instead of shipping silently broken text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CatalogBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        package = Path(self.root) / "src" / "rplcare"
        for po_path in sorted(package.glob("*/locale/*/LC_MESSAGES/*.po")):
            with po_path.open("rb") as fh:
                catalog = read_po(fh, locale=po_path.parent.parent.name)
            errors = [(m.id, e) for m, es in catalog.check() for e in es]
            if errors:
                raise RuntimeError(f"{po_path}: catalog errors: {errors[:5]}")
            with po_path.with_suffix(".mo").open("wb") as fh:
                write_mo(fh, catalog, use_fuzzy=False)
