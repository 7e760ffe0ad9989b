"""Run in .venv-frameworks by test_jax_live.py: live jax/Flax values for the cases in
argv[1] (JSON), compared with the service's arrays in argv[2] (npz); prints a JSON report."""

from __future__ import annotations

import json
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def live(case: dict) -> dict[str, np.ndarray]:
    k = jax.random.key(case["seed"])
    what = case["what"]
    if what == "uniform":
        return {"weight": jax.random.uniform(k, tuple(case["shape"]))}
    if what == "normal":
        return {"weight": jax.random.normal(k, tuple(case["shape"]))}
    if what.startswith("init."):
        fn = getattr(jax.nn.initializers, what[5:])(**case.get("kwargs", {}))
        return {"weight": fn(k, tuple(case["shape"]))}
    if what == "flax.Dense":
        p = nn.Dense(case["out"]).init(k, jnp.ones((1, case["in"])))["params"]
        return dict(p)
    if what == "flax.GRUCell":
        cell = nn.GRUCell(case["hidden"])
        carry = cell.initialize_carry(jax.random.key(0), (1, case["in"]))
        p = cell.init(k, carry, jnp.ones((1, case["in"])))["params"]
        return {f"{m}.{n}": v for m, d in p.items() for n, v in d.items()}
    raise ValueError(what)


def main() -> None:
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    served = np.load(sys.argv[2])
    report = []
    for i, case in enumerate(cases):
        for name, value in live(case).items():
            ours = served[f"{i}/{name}"]
            theirs = np.asarray(value)
            ia = ours.view(np.int32).astype(np.int64)
            ib = theirs.view(np.int32).astype(np.int64)
            ulp = int(np.abs(ia - ib).max()) if ours.shape == theirs.shape else -1
            report.append(
                {"case": i, "tensor": name, "equal": bool(np.array_equal(ours, theirs)), "ulp": ulp}
            )
    print(json.dumps({"jax": jax.__version__, "report": report}))


if __name__ == "__main__":
    main()
