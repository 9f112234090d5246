"""Personalised, multilingual patient leaflets (HTML and PDF) built from an assessment."""
