"""Form input: typed parsing where possible, else the raw text so that validation names it;
and the mapping of validation problems onto the inputs of the form that caused them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rplcare.web.i18n import translate
from rplcare.web.routes.pages import messages

T = TypeVar("T")


#: Messages in the language of the request being handled (the catalogs' keyword).
_ = translate

# Translated where shown (the select macro): module constants are made before any request.
FLAG_CHOICES = (("", _("not recorded")), ("yes", _("yes")), ("no", _("no")))


def yes_no(flag: bool | None) -> str:
    """A recorded flag as the value of a yes/no/not-recorded select."""
    return "" if flag is None else "yes" if flag else "no"


def as_text(raw: str) -> str | None:
    return raw.strip() or None


def _typed(raw: str, convert: Callable[[str], T]) -> T | str | None:
    """`raw` converted; None if empty; `raw` itself if it does not convert."""
    if not raw:
        return None
    try:
        return convert(raw)
    except ValueError:
        return raw


def as_int(raw: str) -> int | str | None:
    return _typed(raw.strip(), int)


def as_float(raw: str) -> float | str | None:
    return _typed(raw.strip().replace(",", "."), float)


def as_flag(raw: str) -> bool | str | None:
    raw = raw.strip().lower()
    if not raw:
        return None
    return {"yes": True, "no": False}.get(raw, raw)


def put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


@dataclass
class FormErrors:
    """Problems of one submitted form: by input id, and those that name no input."""

    form: str = ""
    anchor: str = ""  # the id of the form's element, for a link from the error summary
    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    # Every problem with the label of its field, for an error summary above the form.
    summary: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def add(self, input_id: str | None, problem: str) -> None:
        if input_id is None:
            self.general.append(problem)
        else:
            self.fields.setdefault(input_id, []).append(problem)


def slug(text: str) -> str:
    """An element id as the templates make it from an item id (dots become dashes)."""
    return text.replace(".", "-")


def _path_of(problem: str) -> str:
    return problem.split(":", 1)[0].strip()


def assign_problems(
    problems: Sequence[str],
    inputs: Mapping[str, str],
    form: str,
    values: Mapping[str, str],
    anchor: str = "",
    labels: Mapping[str, str] | None = None,
) -> FormErrors:
    """Attach each validation problem to the input whose case path it names. `inputs` maps a
    case path (``patient.age``) to an input id; a problem on a parent path (``patient``) goes
    to its first input; the rest are shown above the form. `labels` maps input ids to their
    labels, which name the field in the summary instead of the case path (U6)."""
    errors = FormErrors(form=form, anchor=anchor, values=dict(values))
    by_path = {p: (labels or {}).get(i, "") for p, i in inputs.items()}
    for problem in problems:
        path = _path_of(problem)
        target = inputs.get(path)
        if target is None:
            target = next((i for p, i in inputs.items() if p.startswith(path + ".")), None)
        path_label = by_path.get(path) or (labels or {}).get(target or "", "")
        errors.summary.append(messages.labelled(problem, {path: path_label} if path_label else {}))
        if target is not None and ": " in problem:
            # Next to its field the path is noise ("pregnancies[3].end_date: ...").
            errors.add(target, messages.humanize(problem.split(": ", 1)[1]))
        else:
            errors.add(target, errors.summary[-1])
    return errors


@dataclass(frozen=True)
class FormSpec:
    """A form that edits one part of a case, for showing its validation problems.

    `submitted` holds the raw texts by field name, the name relative to the edited part's
    case path; each field's input id is `prefix` + its name. A problem on the part as a
    whole goes to the input `whole` if given."""

    form: str
    anchor: str
    submitted: Mapping[str, str]
    prefix: str = ""
    whole: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)  # by field name

    def errors(self, problems: Sequence[str], at: str) -> FormErrors:
        """The problems of a case whose part at case path `at` this form edited."""
        inputs = {f"{at}.{name}": self.prefix + name for name in self.submitted}
        if self.whole is not None:
            inputs[at] = self.whole
        values = {self.prefix + name: raw for name, raw in self.submitted.items()}
        labels = {self.prefix + name: label for name, label in self.labels.items()}
        return assign_problems(problems, inputs, self.form, values, self.anchor, labels)
