"""RFC 8785 (JCS): the fast path must agree byte for byte with the rfc8785 reference."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from robopass.canonical import CanonicalizationError, canonical_json, sha256_hex

SAFE = 2**53 - 1

# Text with the characters that matter: controls, quotes, backslash, DEL, U+2028, BMP private use
# (which sorts after surrogates in code points but before them in UTF-16), and astral characters.
_chars = st.one_of(
    st.characters(max_codepoint=0x7F),
    st.sampled_from(["\u2028", "\u00e9", "\ue000", "\uffff", "\U0001f600", "\U00010000", "\u20ac"]),
    st.characters(exclude_categories=["Cs"]),
)
_text = st.text(_chars, max_size=12)
_ints = st.integers(-SAFE, SAFE) | st.sampled_from([0, 1, -1, SAFE, -SAFE])
_scalars_without_floats = st.none() | st.booleans() | _ints | _text
_floats = st.floats(allow_nan=False, allow_infinity=False)


def _json(scalars: st.SearchStrategy) -> st.SearchStrategy:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=6),
        max_leaves=30,
    )


@settings(max_examples=1500, deadline=None)
@given(_json(_scalars_without_floats))
def test_without_floats_matches_reference(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@settings(max_examples=500, deadline=None)
@given(_json(_scalars_without_floats | _floats))
def test_with_floats_matches_reference(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.text(st.sampled_from("a\ue000\uffff\U0001f600\U00010000"), max_size=3),
        st.integers(0, 9),
        max_size=8,
    )
)
def test_key_order_is_utf16(value: dict) -> None:
    out = canonical_json(value)
    assert out == rfc8785.dumps(value)
    keys = list(json.loads(out))
    assert keys == sorted(keys, key=lambda k: k.encode("utf-16-be"))


def test_rfc8785_examples() -> None:
    # RFC 8785 §3.2.3: property sorting by UTF-16 code units.
    sorting = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    assert list(json.loads(canonical_json(sorting))) == [
        "\r",
        "1",
        "\u0080",
        "\u00f6",
        "\u20ac",
        "\U0001f600",
        "\ufb33",
    ]
    # RFC 8785 §3.2.2: the "literals", string escapes and numbers example.
    example = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    assert (
        canonical_json(example)
        == (
            '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
            '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
        ).encode()
    )


def test_leaf_record_shape() -> None:
    leaf = {
        "kind": "code",
        "code": "CN0000",
        "type": "issued",
        "at": "2025-03-01T08:00:00Z",
        "id": "1",
        "digest": "ab" * 32,
    }
    assert canonical_json(leaf) == (
        b'{"at":"2025-03-01T08:00:00Z","code":"CN0000","digest":"'
        + b"ab" * 32
        + b'","id":"1","kind":"code","type":"issued"}'
    )


@pytest.mark.parametrize(
    "value",
    [
        2**53,
        -(2**53),
        [1, 2**64],
        {"a": {"b": 2**53}},
        float("nan"),
        {1: "x"},
        "\ud800",
        {"k": "\udfff"},
        object(),
    ],
)
def test_unrepresentable_values_raise(value: object) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_json(value)


def test_tuples_and_subclasses_fall_back() -> None:
    assert canonical_json((1, "a")) == b'[1,"a"]'
    assert canonical_json({"b": True, "a": 1.0}) == b'{"a":1,"b":true}'


def test_sha256_hex() -> None:
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
