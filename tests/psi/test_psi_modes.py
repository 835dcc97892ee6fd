"""Every PSI mode returns what Python set operations say, on random and adversarial sets."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insitu.errors import InvalidInput
from insitu.protocols.psi import Mode

keys = st.lists(st.binary(min_size=0, max_size=6), max_size=12)


def expected_positions(x: list[bytes], y: list[bytes]) -> list[int]:
    ys = set(y)
    return [i for i, item in enumerate(x) if item in ys]


def check_all_modes(psi_run, x: list[bytes], y: list[bytes]) -> None:
    common = set(x) & set(y)
    out, sout = psi_run(x, y, Mode.INTERSECTION, both=True)
    assert out.matched == expected_positions(x, y)
    assert out.cardinality == len(common)
    assert out.sender_size == len(y) and sout.receiver_size == len(x)
    assert {y[p] for p in sout.matched} == common
    out, sout = psi_run(x, y, Mode.CARDINALITY)
    assert out.cardinality == len(common) and out.matched is None
    assert sout.matched is None and sout.cardinality is None


@settings(max_examples=15, deadline=None)
@given(x=keys, y=keys)
def test_intersection_and_cardinality_equal_set_operations(psi_run, x, y) -> None:
    check_all_modes(psi_run, x, y)


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ([], []),
        ([], [b"a", b"b"]),
        ([b"a", b"b"], []),
        ([b"a", b"a", b"b", b"a"], [b"b", b"b", b"c"]),
        ([b"same", b"set", b"here"], [b"here", b"same", b"set"]),
        ([b"p", b"q"], [b"r", b"s"]),
        (["ünïcödé".encode(), "日本".encode(), b"ascii"], ["日本".encode(), "ünïcödé".encode()]),
        ([b"k" * 1024, b"k" * 1023 + b"j"], [b"k" * 1024, b"x" * 1024]),
        ([b"", b"\x00"], [b"\x00\x00", b""]),
    ],
    ids=[
        "empty",
        "receiver-empty",
        "sender-empty",
        "duplicates",
        "identical",
        "disjoint",
        "unicode",
        "1kib-keys",
        "zero-bytes",
    ],
)
def test_adversarial_inputs(psi_run, x, y) -> None:
    check_all_modes(psi_run, x, y)


def test_random_sets_across_chunk_sizes(psi_run) -> None:
    rng = random.Random(7)
    universe = [rng.randbytes(8) for _ in range(300)]
    x = rng.sample(universe, 150)
    y = rng.sample(universe, 170)
    for chunk in (1, 16, 1000):
        out, _ = psi_run(x, y, Mode.INTERSECTION, chunk=chunk)
        assert out.matched == expected_positions(x, y)


@settings(max_examples=10, deadline=None)
@given(
    data=st.dictionaries(st.binary(max_size=4), st.integers(0, 2**32 - 1), max_size=10),
    x=keys,
)
def test_intersection_sum_equals_python_sum(psi_run, data, x) -> None:
    y = list(data)
    out, sout = psi_run(x, y, Mode.SUM, extras=[data[k] for k in y])
    common = set(x) & set(y)
    assert out.cardinality == len(common) and out.matched is None
    assert sout.cardinality == len(common)
    assert sout.total == sum(data[k] for k in common)


def test_intersection_sum_with_large_values(psi_run) -> None:
    y = [f"id{i}".encode() for i in range(20)]
    values = [2**32 - 1 - i for i in range(20)]
    x = [*y[::2], b"other"]
    _, sout = psi_run(x, y, Mode.SUM, extras=values)
    assert sout.total == sum(values[::2])


def test_intersection_sum_refuses_duplicate_sender_keys(psi_run) -> None:
    with pytest.raises(InvalidInput):
        psi_run([b"a"], [b"a", b"a"], Mode.SUM, extras=[1, 2])


def test_intersection_sum_refuses_values_out_of_range(psi_run) -> None:
    with pytest.raises(InvalidInput):
        psi_run([b"a"], [b"a"], Mode.SUM, extras=[2**32])
    with pytest.raises(InvalidInput):
        psi_run([b"a"], [b"a"], Mode.SUM, extras=[-1])


def test_payload_join_returns_only_matched_payloads(psi_run) -> None:
    y = [b"a", b"b", b"c", b"d"]
    payloads = [b"pa", b"", b"pc" * 100, b"pd"]
    x = [b"c", b"z", b"a", b"c"]
    out, _ = psi_run(x, y, Mode.PAYLOAD, extras=payloads)
    assert out.matched == [0, 2, 3]
    assert out.payloads == {0: b"pc" * 100, 2: b"pa", 3: b"pc" * 100}


def test_fresh_keys_per_run(psi_start) -> None:
    first = psi_start([b"a"], [b"a"], Mode.INTERSECTION)
    second = psi_start([b"a"], [b"a"], Mode.INTERSECTION)
    assert first.blinded[0][-32:] != second.blinded[0][-32:]
    assert first.sender_items[0][-11:] != second.sender_items[0][-11:]


def test_cardinality_mode_shuffles_the_reblinded_elements(psi_start) -> None:
    x = [bytes([i]) for i in range(64)]
    t = psi_start(x, x, Mode.CARDINALITY, chunk=64)
    from insitu.crypto import ristretto as group
    from insitu.protocols.psi.kernels import DOMAIN
    from insitu.protocols.psi.messages import HEADER_BYTES

    body = t.reblinded[0][HEADER_BYTES:]
    unblinded = group.mult_batch(body, group.scalar_invert(t.receiver._scalar))
    sender_key = t.sender._scalar
    ordered = group.hash_mult_batch(x, sender_key, domain=DOMAIN)
    assert sorted(unblinded[i : i + 32] for i in range(0, len(unblinded), 32)) == sorted(
        ordered[i : i + 32] for i in range(0, len(ordered), 32)
    )
    assert unblinded != ordered


def run_grouped(x, groups, y, values, n_groups):
    from insitu.protocols.psi import PsiReceiver, PsiSender

    r = PsiReceiver(mode=Mode.SUM, groups=n_groups)
    s = PsiSender(mode=Mode.SUM, size=len(y), groups=n_groups, chunk_size=3)
    r.receive_sender_hello(s.receive_hello(r.hello()))
    blinded = list(r.blind([x[:3], x[3:]], [groups[:3], groups[3:]]))
    items = list(s.setup([y], [values]))
    reblinded = list(s.reblind(blinded))
    r.receive_sender_items(items)
    out = r.receive_reblinded(reblinded)
    return out, s.finish(r.reply())


def test_grouped_intersection_sum_matches_python() -> None:
    x = [b"a", b"b", b"c", b"d", b"e", b"z"]
    groups = [0, 1, 1, 2, 0, 2]
    y = [b"a", b"b", b"c", b"d", b"q"]
    values = [10, 20, 30, 40, 50]
    out, sout = run_grouped(x, groups, y, values, 3)
    assert out.group_counts == [1, 2, 1]
    assert sout.group_counts == [1, 2, 1]
    assert sout.group_totals == [10, 50, 40]
    assert (sout.cardinality, sout.total) == (4, 100)


def test_grouped_sum_refuses_groups_out_of_range() -> None:
    with pytest.raises(ValueError):
        run_grouped([b"a"], [5], [b"a"], [1], 3)
