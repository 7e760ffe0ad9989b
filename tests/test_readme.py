"""The README stays true: its scheme table is the registry's, and its examples run."""

from __future__ import annotations

import re
from pathlib import Path

from app.core.schemes import SCHEMES
from app.core.schemes.table import END, START, render_table

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_scheme_table_is_generated_from_the_registry() -> None:
    block = README.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == render_table(), "run `make readme` and commit README.md"
    for name in SCHEMES:
        assert f"| `{name}` |" in block


def test_python_examples_in_the_readme_run_and_print_what_they_claim(capsys: object) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "the README has Python examples"
    for code in blocks:
        expected = [line[2:] for line in code.splitlines() if line.startswith("# ")]
        exec(compile(code, "README.md", "exec"), {})
        out = capsys.readouterr().out.splitlines()  # type: ignore[attr-defined]
        assert out == expected


# A layer of each kind whose options make every tensor the README names appear (some kinds
# need two: torch's packed and separate attention projections).
KIND_SAMPLES: dict[str, list[dict[str, object]]] = {
    "dense": [{"in_features": 3, "out_features": 2}],
    "bilinear": [{"in1_features": 2, "in2_features": 3, "out_features": 4}],
    **{
        f"conv{t}{d}d": [{"in_channels": 2, "out_channels": 2, "kernel_size": 3}]
        for t in ("", "_transpose")
        for d in (1, 2, 3)
    },
    "embedding": [{"num_embeddings": 5, "embedding_dim": 2}],
    "rnn": [{"input_size": 2, "hidden_size": 3, "num_layers": 2, "bidirectional": True}],
    "lstm": [
        {"input_size": 2, "hidden_size": 3, "num_layers": 2, "bidirectional": True},
        {"input_size": 2, "hidden_size": 3, "proj_size": 2},
    ],
    "gru": [{"input_size": 2, "hidden_size": 3, "num_layers": 2, "bidirectional": True}],
    "multihead_attention": [
        {"embed_dim": 4, "num_heads": 2, "add_bias_kv": True},
        {"embed_dim": 4, "num_heads": 2, "kdim": 3, "add_bias_kv": True},
        {"embed_dim": 4, "num_heads": 2},
    ],
    "transformer_encoder_layer": [{"d_model": 4, "nhead": 2}],
    "transformer_decoder_layer": [{"d_model": 4, "nhead": 2}],
    "layer_norm": [{"normalized_shape": 3}],
    "batch_norm": [{"num_features": 3}],
    "group_norm": [{"num_groups": 1, "num_channels": 3}],
    "instance_norm": [
        {"num_features": 3, "affine": True, "track_running_stats": True},
        {"num_features": 3, "affine": True},
    ],
    "rms_norm": [{"normalized_shape": 3}],
    "prelu": [{}],
    "tensor": [{"shape": [2, 3]}],
}


def _kind_rows() -> list[tuple[list[str], list[str]]]:
    block = README.split("#### Layer kinds per layout", 1)[1].split("\n\n")[2]
    rows = []
    for line in block.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        rows.append((re.findall(r"`([a-z0-9_]+)`", cells[0]), cells[1:]))
    return rows


def test_the_kind_table_names_every_kind_and_each_frameworks_gaps() -> None:
    from app.core.kinds import KIND_CLASSES
    from app.core.types import Layout

    rows = _kind_rows()
    assert sorted(kind for kinds, _ in rows for kind in kinds) == sorted(KIND_CLASSES)
    for kinds, cells in rows:
        for layout, cell in zip(Layout, cells, strict=True):
            for kind in kinds:
                assert (cell == "—") == (layout not in KIND_CLASSES[kind]), (kind, layout)


ARGUMENTS_IN_THE_TABLE = {"affine", "track_running_stats", "add_bias_kv", "proj_size"}


def _appears(token: str, names: set[str]) -> bool:
    """Whole dotted parts of a name (``hi.kernel`` in ``l0.forward.hi.kernel``, ``backward.``),
    or a suffix (``_reverse``)."""
    parts = "." + token.rstrip(".") + "."
    return any(
        parts in f".{name}." or (token.startswith("_") and name.endswith(token)) for name in names
    )


def test_every_tensor_name_in_the_kind_table_is_one_the_layer_has() -> None:
    from app.core.errors import InvalidParameterError
    from app.core.kinds import KIND_CLASSES
    from app.core.layers import expand_layer, make_layer
    from app.core.types import Layout

    for kinds, cells in _kind_rows():
        for layout, cell in zip(Layout, cells, strict=True):
            quoted = re.findall(r"`([a-z_][a-z0-9_.]*)(?: \([^)`]*\))?`", cell)
            names: set[str] = set()  # a row's kinds together (an LSTM's weight_hr: rnn/lstm/gru)
            for kind in (k for k in kinds if layout in KIND_CLASSES[k]):
                expanded = 0
                for fields in KIND_SAMPLES[kind]:
                    try:  # proj_size, add_bias_kv, track_running_stats: torch's alone
                        names |= {t.name for t in expand_layer(make_layer(kind, fields), layout)}
                        expanded += 1
                    except InvalidParameterError:
                        continue
                assert expanded, (kind, layout.value)
            for token in set(quoted) - ARGUMENTS_IN_THE_TABLE:
                assert _appears(token, names), (kinds, layout.value, token, sorted(names))
