"""Web application: FastAPI over the same engine; SQLAlchemy 2 + Alembic storage."""
