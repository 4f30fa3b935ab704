import io

import pytest

from tokenward.errors import UsageError
from tokenward.values import MAX_VALUE_BYTES, read_value


def read(data: bytes) -> str:
    return read_value(stream=io.BytesIO(data))


def test_one_trailing_newline_is_stripped():
    assert read(b"ghp_abc\n") == "ghp_abc"
    assert read(b"ghp_abc\r\n") == "ghp_abc"
    assert read(b"ghp_abc") == "ghp_abc"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"\n", "empty"),
        (b"   \n", "empty"),
        (b"abc\n\n", "line break"),
        (b"ab\x00c", "NUL"),
        (b"a\nb", "line break"),
        (b"\xff\xfe", "not UTF-8"),
        (b" abc", "leading or trailing spaces"),
        (b"ab\x1bc", "control characters"),
        (b"x" * (MAX_VALUE_BYTES + 10), "larger than"),
        # issue 9 item 16: Unicode line breaks, zero-width and format characters
        ("ghp_ab\u0085cd".encode(), "line break"),
        ("ghp_ab\u2028cd".encode(), "line break"),
        ("ghp_ab\u2029cd".encode(), "line break"),
        ("ghp_ab\u200bcd".encode(), r"invisible .*U\+200B"),
        ("ghp_ab\u200dcd".encode(), r"invisible .*U\+200D"),
        ("ghp_ab\u2060cd".encode(), r"invisible .*U\+2060"),
        ("ghp_abcd\u202e".encode(), r"invisible .*U\+202E"),
        ("ghp_ab\ufeffcd".encode(), r"invisible .*U\+FEFF"),
        ("\ufeff\ufeffghp_abcd".encode(), r"invisible .*U\+FEFF"),
        ("ghp_ab\x9bcd".encode(), r"control characters \(U\+009B\)"),
    ],
)
def test_bad_values_are_refused_without_echoing_them(data, message):
    with pytest.raises(UsageError, match=message) as info:
        read(data)
    shown = data.decode(errors="ignore").strip()
    if len(shown) > 1:
        assert shown not in str(info.value)


@pytest.mark.parametrize("data", ["\ufeffghp_abc\n".encode(), "\ufeffghp_abc".encode(), "\ufeffghp_abc\r\n".encode()])
def test_a_leading_bom_is_stripped(data):
    assert read(data) == "ghp_abc"
