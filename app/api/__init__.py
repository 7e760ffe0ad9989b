"""The HTTP layer: pydantic schemas, routers, problem+json errors, settings."""
