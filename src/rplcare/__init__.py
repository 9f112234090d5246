"""rplcare: decision support for recurrent pregnancy loss.

The public surface is small on purpose: load a case, assess it against the knowledge base.
"""

from rplcare.engine.assess import assess
from rplcare.errors import CaseValidationError, KnowledgeError, RplcareError
from rplcare.io import load_case
from rplcare.knowledge.loader import load_knowledge

__version__ = "0.1.0"

__all__ = [
    "CaseValidationError",
    "KnowledgeError",
    "RplcareError",
    "__version__",
    "assess",
    "load_case",
    "load_knowledge",
]
