"""Cooperative cancellation: a stopped QR raises Cancelled; unstopped, nothing changes."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.core.cancel import Cancelled, checkpoint, stoppable
from app.core.linalg import orthogonal_q


def test_checkpoint_raises_only_inside_stoppable_once_an_event_is_set() -> None:
    stop = threading.Event()
    checkpoint()  # no events installed: nothing happens
    with stoppable(None, stop):
        checkpoint()
        stop.set()
        with pytest.raises(Cancelled):
            checkpoint()
    checkpoint()  # the previous (empty) set is restored


def test_a_stopped_qr_raises_and_an_unstopped_one_gives_the_same_bits() -> None:
    a = np.random.default_rng(0).standard_normal((64, 48))
    stop = threading.Event()
    with stoppable(stop):
        q = orthogonal_q(a)
    assert q.tobytes() == orthogonal_q(a).tobytes()
    stop.set()
    with stoppable(stop), pytest.raises(Cancelled):
        orthogonal_q(a)
