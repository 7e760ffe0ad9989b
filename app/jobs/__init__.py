"""The application layer: where a request becomes one typed job, and a job a stream of bytes.

Both adapters go through here: the HTTP routers in ``app.api`` and the command line's
``--local`` mode (``weightinit_client.cli``, shipped with the client, imports them by name
at run time):

* :mod:`app.jobs.requests` - the request models (the public contract; validated once);
* :mod:`app.jobs.limits` - every limit and the request cost, checked before any work;
* :mod:`app.jobs.job` - a validated request to a :class:`~app.jobs.job.Job` (plans, the
  returned tensors and their regions, the format);
* :mod:`app.jobs.body` - a job's response body as sized pieces, generated on a thread pool
  in any order and sent in order (streaming, ranges, buffering);
* :mod:`app.jobs.digests` - sha256 of every returned tensor and of each 65 536-element block;
* :mod:`app.jobs.pool` - the generation thread pool and the ordered, bounded read-ahead;
* :mod:`app.jobs.registry` - the scheme registry as plain data (GET /v1/schemes, the CLI).

This package imports the core, the encoders and pydantic (for the request models); never
FastAPI, Starlette or another adapter.
"""
