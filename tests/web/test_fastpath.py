"""The public hot path answers registered units before the framework, with the same bytes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.utils.api import DEPLOYMENT

from robopass import idcode
from robopass.api import create_app
from robopass.config import Settings
from robopass.web import fastpath

LANGUAGES: list[dict[str, str]] = [
    {}, {"Accept-Language": "en-GB,en;q=0.9"}, {"Accept-Language": "zh-CN,zh;q=0.9"},
    {"Accept-Language": "fr"}, {"Cookie": "robopass_lang=zh_CN"},
    {"Cookie": "other=1; robopass_lang=en", "Accept-Language": "zh"}]


@pytest.fixture
def framework_only(client) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The same registry served without the fast path: the reference answers."""
    app = create_app(Settings(database_url=client.registry.url, public_fast_path=False,
                              public_rate_limit=0))
    with TestClient(app) as raw:
        yield raw


@pytest.fixture
def fast_answers(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the fast path's page renderer returned, request by request (None: passed on)."""
    seen: list[Any] = []
    real = fastpath.render_page

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        seen.append(out)
        return out

    monkeypatch.setattr(fastpath, "render_page", spy)
    return seen


def units_in_every_shape(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker, name='Walker <b>"&\'</b> 5')
    codes = client.codes(maker, model_id, 4)
    owner = client.org("operator")
    units = {"coded": codes[0]}
    client.event(maker, codes[1], "manufactured", at="2026-03-10T08:00:00Z")
    client.event(maker, codes[1], "sold", to_organization=owner.id, at="2026-03-11T08:00:00Z")
    client.event(owner, codes[1], "deployed", at="2026-03-12T08:00:00Z", details=DEPLOYMENT)
    client.event(owner, codes[1], "maintenance_started", at="2026-03-13T08:00:00Z")
    client.event(owner, codes[1], "maintenance_completed", at="2026-03-13T09:00:00Z")
    units["in_service"] = codes[1]
    recycler = client.org("recycler")
    client.event(maker, codes[2], "manufactured", at="2026-03-10T08:00:00Z")
    client.event(maker, codes[2], "decommissioned", at="2026-03-11T08:00:00Z")
    client.event(recycler, codes[2], "scrapped", at="2026-03-12T08:00:00Z")
    units["scrapped"] = codes[2]
    other = client.org("manufacturer")
    suspended_model = client.approved_model(other)
    units["model_suspended"] = client.codes(other, suspended_model, 1)[0]
    r = client.post(f"/api/v1/models/{suspended_model}/suspend", {"reason": "audit"},
                    client.regulator)
    assert r.status_code == 200, r.text
    return units


def test_pages_and_answers_are_the_frameworks_bytes(client, framework_only,  # type: ignore[no-untyped-def]
                                                    fast_answers) -> None:
    units = units_in_every_shape(client)
    # the first answer of a process learns the registry's country (the full path)
    client.raw.get(f"/r/{units['coded']}")
    for name, code in units.items():
        for path in (f"/r/{code}", f"/r/{idcode.format(code)}", f"/r/{code.lower()}",
                     f"/api/v1/verify/{code}"):
            for headers in LANGUAGES:
                fast_answers.clear()
                got = client.raw.get(path, headers=headers)
                want = framework_only.get(path, headers=headers)
                assert got.status_code == want.status_code == 200, (name, path)
                assert got.content == want.content, (name, path, headers)
                assert dict(got.headers) == dict(want.headers), (name, path, headers)
                if path.startswith("/r/"):
                    assert fast_answers and fast_answers[0] is not None, (name, path)
    assert "Walker &lt;b&gt;&#34;&amp;&#39;&lt;/b&gt; 5" in client.raw.get(
        f"/r/{units['in_service']}").text


def test_everything_else_is_passed_on(client, framework_only, fast_answers) -> None:  # type: ignore[no-untyped-def]
    maker, code = client.manufactured_unit()
    unknown = idcode.with_check("CN10000000012603A13B00000777")
    typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    model_id = client.get(f"/api/v1/robots/{code}", maker).json()["model"]["id"]
    _, recalled = client.manufactured_unit()
    recalled_model = client.get(f"/api/v1/robots/{recalled}", client.regulator).json()
    r = client.post("/api/v1/recalls", {"reason": "Knee actuator may overheat",
                                        "scope": {"model_id": recalled_model["model"]["id"]}},
                    client.regulator)
    assert r.status_code == 201, r.text
    assert model_id
    for path in (f"/r/{unknown}", f"/r/{typo}", f"/r/{recalled}", "/r/garbage",
                 f"/r/{code}?lang=zh_CN", f"/r/%20{code}", f"/api/v1/verify/{unknown}",
                 f"/api/v1/verify/{recalled}"):
        fast_answers.clear()
        got = client.raw.get(path)
        want = framework_only.get(path)
        assert got.status_code == want.status_code == 200
        assert got.content == want.content, path
        assert all(answer is None for answer in fast_answers), path
    for path in ("/healthz",):
        got, want = client.raw.get(path), framework_only.get(path)
        assert (got.content, dict(got.headers)) == (want.content, dict(want.headers))
    # HEAD and a cookie-setting ?lang= are the framework's
    assert client.raw.head(f"/r/{code}").status_code == framework_only.head(
        f"/r/{code}").status_code
    switched = client.raw.get(f"/r/{code}?lang=zh_CN")
    assert switched.cookies.get("robopass_lang") == "zh_CN"


def test_a_skeleton_that_differs_from_the_template_is_not_used(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _, code = client.manufactured_unit()
    want = client.raw.get(f"/r/{code}", headers={"Accept-Language": "en"}).text
    monkeypatch.setattr(fastpath, "_skeletons", {})
    real_values = fastpath._values

    def wrong(*args: Any) -> dict[str, Any]:
        values = real_values(*args)
        values["maker"] = "Somebody Else"
        return values

    monkeypatch.setattr(fastpath, "_values", wrong)
    for _ in range(2):
        got = client.raw.get(f"/r/{code}", headers={"Accept-Language": "en"})
        assert got.text == want and "Somebody Else" not in got.text
    assert None in fastpath._skeletons.values()  # the shape was given up, the template serves


def test_the_hot_path_sees_writes_at_once(client) -> None:  # type: ignore[no-untyped-def]
    maker, code = client.manufactured_unit()
    assert 'data-testid="status">Manufactured<' in client.raw.get(f"/r/{code}").text
    buyer = client.org("operator")
    client.event(maker, code, "sold", to_organization=buyer.id, at="2026-03-11T08:00:00Z")
    html = client.raw.get(f"/r/{code}").text
    assert 'data-testid="status">Sold<' in html and 'data-testid="owners">1<' in html
    assert client.raw.get(f"/api/v1/verify/{code}").json()["status"] == "sold"


def test_a_broken_pinned_connection_is_replaced(client) -> None:  # type: ignore[no-untyped-def]
    """A database restart or a dropped socket: the read is retried once on a new connection."""
    from robopass.verification.service import PinnedReader

    _, code = client.manufactured_unit()
    reader = PinnedReader(client.registry.url)
    sql = "SELECT code FROM units WHERE code = " + (
        "%s" if client.registry.url.startswith("postgresql") else "?")
    try:
        assert reader.fetchone(sql, (code,)) == (code,)
        reader._connection.dbapi_connection.close()  # broken under the reader's feet
        assert reader.fetchone(sql, (code,)) == (code,)
        if client.registry.url.startswith("postgresql"):  # the server drops every connection
            import psycopg

            dsn = client.registry.url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            assert reader.fetchone(sql, (code,)) == (code,)
            r = client.raw.get(f"/r/{code}")
            assert r.status_code == 200 and 'data-verdict="genuine"' in r.text
        # another thread than the first caller's gets a pooled connection, not the pinned one
        import threading

        pinned = reader._connection
        seen: list[object] = []
        worker = threading.Thread(target=lambda: seen.append(reader.fetchone(sql, (code,))))
        worker.start()
        worker.join(10)
        assert seen == [(code,)] and reader._connection is pinned
    finally:
        reader.close()
