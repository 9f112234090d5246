"""rplcare: decision support for recurrent pregnancy loss.

The public surface is small on purpose: load a case, assess it against the knowledge base.
"""

from typing import TYPE_CHECKING, Any

from rplcare.errors import CaseValidationError, KnowledgeError, RplcareError

if TYPE_CHECKING:
    from rplcare.engine.assess import assess
    from rplcare.io import load_case
    from rplcare.knowledge.loader import load_knowledge

__version__ = "0.1.0"

_LAZY = {
    "assess": "rplcare.engine.assess",
    "load_case": "rplcare.io",
    "load_knowledge": "rplcare.knowledge.loader",
}


def __getattr__(name: str) -> Any:
    """Import the engine on first use, so `rplcare risk` starts quickly."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rplcare' has no attribute {name!r}")


__all__ = [
    "CaseValidationError",
    "KnowledgeError",
    "RplcareError",
    "__version__",
    "assess",
    "load_case",
    "load_knowledge",
]
