"""Pure numerical core: from a layer spec, a scheme and a seed to the tensor's exact values.

Nothing here knows about HTTP, pydantic or I/O; the job layer (``app.jobs``) and the adapters
(``app.api``; the client's command line, ``weightinit_client.cli --local``) sit on top of it.
Imports go one way, down this list:

* vocabulary: ``types`` (string enums), ``errors`` (typed errors naming the field),
  ``dtypes`` (output and working dtypes), ``precision`` (exact arithmetic, thread-safe);
* what a tensor is: ``fans`` (fan_in/fan_out per layout), ``gains`` (activation gains),
  ``laws`` (the distribution a scheme resolves to, with its constants), ``tensor_spec`` (one
  named tensor of a layer), ``kinds`` (which layouts have each layer kind), ``norms`` and
  ``attention`` (norm layers; multi-head attention and transformer layers), ``layers`` (every
  layer kind's arguments, expanded into named tensors with shapes, fans and roles),
  ``shape_maps`` (a map of tensor name -> shape: roles from names and ranks by a literal rule
  table, families, fans; ``shape_map_table`` renders the table for the README);
* ``schemes/``: the registry, one literal row per scheme over named engines;
* ``planning`` (layer + schemes -> ``plans.TensorPlan``), ``initialize`` (one call for
  library users);
* values: ``streams`` (seeded blocks-v1 streams), ``normal`` (the byte-stable normal
  sampler), ``sampling`` (a law and a block's stream -> values), ``linalg`` (byte-stable QR),
  ``deterministic`` (laws that draw nothing), ``generate`` (whole tensors, blocks-v1),
  ``legacy`` (numpy-legacy), ``regions`` and ``reading`` (slices, shards and element ranges
  without the rest of the tensor);
* ``diagnostics/``: initialised weights at work, a chain's signal propagation (forward,
  backward, mean-field prediction) and muP's coordinate check.
"""
