"""Pre-rendered templates: static text and escaped slots, exactly as Jinja renders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment

from robopass.web.skeleton import NotASkeleton, compile_skeleton, placeholder

ENV = Environment(autoescape=True)
TEMPLATE = ENV.from_string('<p title="{{ a }}">{{ b }} · {{ n }}</p>{% for x in c.split("-") %}'
                           "<i>{{ x }}</i>{% endfor %}")


def render(a: object, b: object, n: object, c: str) -> str:
    return TEMPLATE.render(a=a, b=b, n=n, c=c)


skeleton = compile_skeleton(
    lambda slot: render(slot("a"), slot("b"), slot("n"),
                        "-".join(slot(f"c{i}") for i in range(3))),
    {"a", "b", "n", "c0", "c1", "c2"})


@given(st.text(), st.text(), st.integers(), st.lists(st.text(alphabet=st.characters(
    blacklist_characters="-"), min_size=0), min_size=3, max_size=3))
def test_fill_equals_the_template(a: str, b: str, n: int, parts: list[str]) -> None:
    values = {"a": a, "b": b, "n": n, **{f"c{i}": p for i, p in enumerate(parts)}}
    assert skeleton.fill(values) == render(a, b, n, "-".join(parts))


def test_html_is_escaped() -> None:
    out = skeleton.fill({"a": '"><script>', "b": "<b>&", "n": 1, "c0": "'", "c1": "", "c2": ""})
    assert "<script>" not in out and "&#34;&gt;&lt;script&gt;" in out and "&lt;b&gt;&amp;" in out


def test_a_filtered_placeholder_is_refused() -> None:
    template = ENV.from_string("{{ a|upper }}{{ b[:3] }}")
    with pytest.raises(NotASkeleton):
        compile_skeleton(lambda slot: template.render(a=slot("a"), b=slot("b")), {"a", "b"})
    with pytest.raises(NotASkeleton):
        compile_skeleton(lambda slot: slot("zz"), {"a"})
    with pytest.raises(ValueError):
        placeholder("no spaces")


def test_matches_marks_the_shape_checked() -> None:
    s = compile_skeleton(lambda slot: f"<p>{slot('a')}</p>", {"a"})
    assert not s.checked
    assert not s.matches({"a": "x"}, lambda: "<p>y</p>") and not s.checked
    assert s.matches({"a": "x"}, lambda: "<p>x</p>") and s.checked
