"""Prognosis: a frailty model of miscarriage risk fitted jointly to published data."""
