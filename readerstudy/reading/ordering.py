"""Each reader's case order: random per reader, stable for ever, extended only by appending.

The scheme: every case gets a sort key HMAC-SHA256(key = the enrolment's ``order_seed``,
message = the case's ``public_id``). When a reader is first served, their order is all of the
study's cases sorted by that key. When cases are added to the study later, the new cases (and
only those) are sorted by the same key and appended after the existing order; cases that were
removed are dropped. So:

- two readers get independent random orders (different seeds), and the order does not leak
  anything about a case beyond its opaque public id;
- the order of a reader is a pure function of their seed and the batches in which they met the
  cases, and it is stored (``ReadingOrder``), so logout, login, another browser or another
  server process all see the same order;
- a case appears exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable, Sequence


def case_sort_key(order_seed: int, public_id: uuid.UUID) -> bytes:
    key = int(order_seed).to_bytes(8, "big", signed=True)
    return hmac.new(key, public_id.bytes, hashlib.sha256).digest()


def order_extend(
    order_seed: int, current: Sequence[int], cases: Iterable[tuple[int, uuid.UUID]]
) -> list[int]:
    """The reader's order after meeting ``cases`` (all (id, public_id) of the study now).

    Keeps ``current`` (minus cases no longer in the study) and appends the cases it lacks,
    shuffled by the reader's seed.
    """
    by_id = dict(cases)
    kept = [case_id for case_id in dict.fromkeys(current) if case_id in by_id]
    known = set(kept)
    added = sorted(
        (case_id for case_id in by_id if case_id not in known),
        key=lambda case_id: case_sort_key(order_seed, by_id[case_id]),
    )
    return kept + added
