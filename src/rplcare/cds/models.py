"""CDS Hooks 2.0 payloads (HL7 `hl7.fhir.uv.cds-hooks` 2.0.1), as pydantic models.

Requests are read leniently where the specification allows growth (unknown fields, e.g.
`extension`, are ignored) and strictly where it requires a value. Responses are built strictly
and dumped without empty or null members: the specification forbids `null`, `""`, `[]` and `{}`
for optional fields (the one exception, an empty `cards` array, is kept).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SUMMARY_MAX = 140  # "<140 characters" (card.summary)


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> dict[str, Any]:
        pruned: dict[str, Any] = _prune(self.model_dump(mode="json", exclude_none=True))
        return pruned


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v not in ([], {}, "")}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


# --- discovery --------------------------------------------------------------------------------


class Service(_Out):
    hook: str
    title: str | None = None
    description: str
    id: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None


class Discovery(_Out):
    services: list[Service]


# --- request ----------------------------------------------------------------------------------


class FhirAuthorization(_In):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


class HookRequest(_In):
    hook: str
    hookInstance: Annotated[str, Field(min_length=1)]
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @field_validator("fhirServer")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("https://", "http://")):
            raise ValueError("fhirServer must be an http(s) URL")
        return v.rstrip("/") if v else v

    def context_str(self, key: str) -> str | None:
        value = self.context.get(key)
        return value if isinstance(value, str) and value else None


# --- response ---------------------------------------------------------------------------------


class Coding(_Out):
    code: str
    system: str | None = None
    display: str


class Source(_Out):
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_Out):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(_Out):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] = Field(default_factory=list)


class Link(_Out):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None


class Card(_Out):
    uuid: str | None = None
    summary: Annotated[str, Field(min_length=1, max_length=SUMMARY_MAX - 1)]
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] = Field(default_factory=list)
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)

    @model_validator(mode="after")
    def _behaviour_with_suggestions(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("selectionBehavior is required when there are suggestions")
        return self


class CardsResponse(_Out):
    cards: list[Card]

    def to_json(self) -> dict[str, Any]:
        return {"cards": [c.to_json() for c in self.cards]}


# --- feedback ---------------------------------------------------------------------------------


class AcceptedSuggestion(_In):
    id: str


class OverrideReason(_In):
    reason: dict[str, Any] | None = None
    userComment: str | None = None


class FeedbackItem(_In):
    card: str
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: str


class Feedback(_In):
    feedback: list[FeedbackItem] = Field(min_length=1)
