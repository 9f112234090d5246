"""One exception tree. Adapters (CLI, web) turn these into exit codes or HTTP statuses."""

from __future__ import annotations


class RplcareError(Exception):
    """Root of every error rplcare raises on purpose."""


class InputError(RplcareError):
    """The user gave us something we cannot use (a file, a flag, a value)."""


class CaseValidationError(InputError):
    """A case file failed validation: one message per problem, each naming its field path."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(problems))


class KnowledgeError(RplcareError):
    """The knowledge base is inconsistent or fails its schema. A packaging bug, not a user error."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("knowledge base invalid: " + "; ".join(problems))
