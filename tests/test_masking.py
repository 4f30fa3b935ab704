"""Masking: every occurrence of every secret becomes ****, however the output is chunked."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenward.masking import MASK, Masker

SECRET = b"pypi-AgEIcHlwaS5vcmcSECRET"


def run_chunks(secrets, chunks) -> bytes:
    masker = Masker(secrets)
    return b"".join(masker.feed(c) for c in chunks) + masker.flush()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for p in points:
        pieces.append(data[start:p])
        start = p
    pieces.append(data[start:])
    return pieces


def test_split_at_every_position():
    data = b"before " + SECRET + b" middle " + SECRET + b" after"
    expected = data.replace(SECRET, MASK)
    for i in range(len(data) + 1):
        for j in range(i, len(data) + 1, 7):
            assert run_chunks([SECRET], [data[:i], data[i:j], data[j:]]) == expected


def test_byte_by_byte():
    data = b"x" + SECRET + SECRET + b"y\n"
    assert run_chunks([SECRET], [bytes([b]) for b in data]) == b"x" + MASK + MASK + b"y\n"


def test_prompt_without_newline_is_not_held():
    masker = Masker([SECRET])
    assert masker.feed(b"Enter your API token: ") == b"Enter your API token: "


def test_partial_secret_at_the_end_is_released_on_flush():
    masker = Masker([SECRET])
    assert masker.feed(b"abc" + SECRET[:5]) == b"abc"
    assert masker.flush() == SECRET[:5]


def test_value_and_narrowed_value_both_masked():
    narrowed = SECRET + b"MoreCaveatsAndANewSignature"
    data = b"[" + SECRET + b"] [" + narrowed + b"]"
    assert run_chunks([SECRET.decode(), narrowed.decode()], split(data, [3, 20, 40])) == b"[" + MASK + b"] [" + MASK + b"]"


def test_a_secret_that_starts_a_longer_one_waits_for_it():
    assert run_chunks(["aa", "aaa"], [b"aa", b"a"]) == MASK
    assert run_chunks(["cd", "abcde"], [b"abcd", b"e!"]) == MASK + b"!"
    assert run_chunks(["cd", "abcde"], [b"abcd", b"x"]) == b"ab" + MASK + b"x"
    assert run_chunks(["aa", "aaa"], [b"aa"]) == MASK  # the stream ends while waiting


def test_empty_secrets_are_ignored():
    assert run_chunks(["", SECRET], [b"a", b"b"]) == b"ab"


alphabet = st.sampled_from(b"abcpy-\n")


@settings(max_examples=300, deadline=None)
@given(
    secret=st.binary(min_size=1, max_size=12).filter(lambda s: b"*" not in s),
    parts=st.lists(st.one_of(st.binary(max_size=8).filter(lambda s: b"*" not in s), st.just(b"\x00S")), max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=500), max_size=10),
)
def test_chunking_never_changes_the_result(secret, parts, cuts):
    data = b"".join(secret if p == b"\x00S" else p for p in parts)
    whole = data.replace(secret, MASK)
    assert run_chunks([secret], split(data, cuts)) == whole


@settings(max_examples=200, deadline=None)
@given(
    a=st.text(alphabet="abc-", min_size=2, max_size=8),
    b=st.text(alphabet="abc-", min_size=2, max_size=8),
    noise=st.lists(st.text(alphabet="abcxyz-\n", max_size=6), max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=8),
)
def test_two_secrets_never_leak(a, b, noise, cuts):
    data = "".join(n + (a if i % 2 else b) for i, n in enumerate(noise)).encode()
    out = run_chunks([a, b], split(data, cuts))
    assert out == run_chunks([a, b], [data])
    assert a.encode() not in out and b.encode() not in out


def test_throughput_is_not_a_bottleneck():
    import time

    chunk = (b"x" * 1000 + b"\n") * 64
    masker = Masker([SECRET, SECRET + b"narrowed"])
    start = time.perf_counter()
    total = 0
    while total < 32 * 1024 * 1024:
        masker.feed(chunk)
        total += len(chunk)
    rate = total / (time.perf_counter() - start) / 1e6
    assert rate > 200, f"masking runs at {rate:.0f} MB/s"
