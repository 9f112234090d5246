"""Human-readable renderings of an assessment (adapters: no clinical logic here)."""
