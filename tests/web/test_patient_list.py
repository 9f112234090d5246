"""The patient list (review U10): facts at a glance and paging, not one endless table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.web.conftest import login

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def case(label: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "aps-three-losses.json").read_text())
    data["id"] = label
    return data


def test_the_list_shows_age_last_pregnancy_and_pages(client: TestClient) -> None:
    csrf = login(client, "clin")
    for i in range(53):
        r = client.post(
            "/api/v1/patients", json=case(f"LIST-{i:02d}"), headers={"x-csrf-token": csrf}
        )
        assert r.status_code == 201, r.text
    first = client.get("/patients").text
    assert "(53; page 1 / 2)" in first
    assert len(re.findall(r'<th scope="row"><a href="/patients/', first)) == 50
    assert "LIST-52" in first and "LIST-00" not in first  # newest first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    row = first.split("LIST-52", 1)[1].split("</tr>", 1)[0]
    example = case("x")
    last = example["pregnancies"][-1]
    assert last["end_date"] in row and last["outcome"].replace("_", " ") in row
    second = client.get("/patients", params={"page": 2}).text
    assert "LIST-00" in second and 'rel="prev"' in second
    assert len(re.findall(r'<th scope="row"><a href="/patients/', second)) == 3
    assert "There is no such page" in client.get("/patients", params={"page": 9}).text
    searched = client.get("/patients", params={"q": "list-5"}).text
    assert "(3)" in searched  # LIST-50..52, one page, no pager
    assert 'rel="next"' not in searched
