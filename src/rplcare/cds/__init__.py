"""CDS Hooks 2.0 services: rplcare inside the EHR (patient-view, order-select)."""
