"""Pure numerical core: fans, gains, schemes, seeded streams and layer kinds.

Nothing here knows about HTTP, pydantic or I/O; the API layer sits on top of it.
"""
