"""The clinician workspace: server-rendered pages over the repository verbs.

An adapter only: every clinical judgement comes from the engine through `repository`. Forms
post with a CSRF field and redirect after success (POST/redirect/GET); invalid input is
re-rendered with HTTP 422 and each problem next to the field its path names. `date.today()`
is read here, at the boundary, and nowhere in the core.

Modules: `common` (sign-in, CSRF, rendering, error pages), `forms` (form parsing, problems
mapped to inputs), `patients` (list, new, import/export, delete), `view` (the patient page's
context), `detail` (the patient page and the forms that edit a case), `records` (edit and remove
one entry, couple details, a current pregnancy's outcome: each on its own page),
`form_models` (each form's fields, declared once), `messages` (problems in plain words),
`admin` (users, audit), `account` (changing one's own password).
"""

from __future__ import annotations

from fastapi import APIRouter

from rplcare.web.routes.pages import account, admin, detail, patients, records

router = APIRouter()
# `patients` first: its /patients/new and /patients/import must be matched before
# /patients/{couple_id} in `detail`.
router.include_router(patients.router)
router.include_router(detail.router)
router.include_router(records.router)
router.include_router(admin.router)
router.include_router(account.router)

__all__ = ["router"]
