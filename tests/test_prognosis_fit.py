"""`rplcare model fit` reproduces the committed parameters from the committed data."""

from __future__ import annotations

import hashlib

import pytest

from rplcare.prognosis.data import load_published_data
from rplcare.prognosis.fit import fit_all
from rplcare.prognosis.model import load_parameters

#: Refitting must land on the same optimum: parameters within this absolute difference (far
#: below their standard errors, which are 0.08 or more).
REFIT_ATOL = 0.02


def test_parameters_were_fitted_to_the_current_data() -> None:
    data = load_published_data()
    assert load_parameters()["data_sha256"] == hashlib.sha256(data.raw_text.encode()).hexdigest(), (
        "sources.yaml changed: run `rplcare model fit` and commit parameters.json"
    )


@pytest.fixture(scope="module")
def refit() -> dict[str, object]:
    return fit_all()


def test_refit_reproduces_committed_parameters(refit: dict[str, object]) -> None:
    committed = load_parameters()
    for model in ("next_pregnancy", "current_pregnancy"):
        new = refit[model]["parameters"]  # type: ignore[index]
        old = committed[model]["parameters"]
        assert new.keys() == old.keys()
        for name in old:
            assert new[name] == pytest.approx(old[name], abs=REFIT_ATOL), f"{model}.{name}"
        assert refit[model]["converged"]  # type: ignore[index]
