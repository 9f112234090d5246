"""FHIR R4 adapter: read a pregnancy history from a Bundle, write an assessment and the knowledge
base as R4 resources. Plain JSON in and out; `docs/fhir.md` explains the mapping."""
