"""Cohort mode: registers of millions of pregnancies, classified and scored in bulk."""
