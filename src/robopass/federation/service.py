"""Federation (SPEC §8): peers with pinned JWKS, verification through a peer, imports.

A code whose country is another registry's is resolved by asking that registry (its public
``/api/v1/verify/{code}`` and ``/api/v1/robots/{code}/passport``), and the passport's signature is
checked against the JWKS pinned when the peer was added — never against keys fetched with the
answer. What we show comes from the signed claims, not from the unsigned verify answer.

Network calls use short timeouts (:data:`TIMEOUT`) and are made outside write transactions. A
request we send carries ``X-Robopass-Federated: 1``; a registry receiving it answers from its own
records only, so two misconfigured registries can never bounce a question between them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass import idcode, netguard
from robopass.errors import Conflict, InvalidInput, NotFound, PeerError
from robopass.federation.models import ImportedRobot, Peer
from robopass.ids import new_id
from robopass.organizations.models import Organization
from robopass.passports.verify import PassportError, verify_history, verify_passport
from robopass.product_models.models import ProductModel
from robopass.registry import service as registry_service
from robopass.robots.models import TERMINAL_STATUSES, UNIT_STATUSES, Unit
from robopass.stats import counts as unit_counts
from robopass.timeutil import utcnow

if TYPE_CHECKING:  # httpx is imported where a request is made (see robopass.outbound)
    import httpx

#: Seconds for hearing from and connecting to a peer (the public page must stay fast).
TIMEOUT = (3.0, 2.0)
FEDERATED_HEADER = "X-Robopass-Federated"
MAX_BODY = 256 * 1024


@dataclass(frozen=True)
class RemoteRobot:
    """A peer's answer about one of its codes, passport verified against the pinned JWKS."""

    country: str
    verify: dict[str, Any]
    passport: str | None
    claims: dict[str, Any] | None
    history: list[dict[str, Any]] | None


# --- peers ----------------------------------------------------------------------------------

def normalise_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"base URL {base_url!r} must be http(s)://host[:port][/path]",
                           field="base_url", code="invalid_base_url")
    return base_url.strip().rstrip("/")


def check_country(country: str) -> str:
    country = (country or "").strip().upper()
    if country not in idcode.COUNTRIES:
        raise InvalidInput(f"{country!r} is not an ISO 3166-1 alpha-2 country code",
                           field="country", code="invalid_country")
    return country


def _client(transport: httpx.BaseTransport | None) -> httpx.Client:
    """An httpx client for a peer: the guarded transport unless a test gives one."""
    import httpx

    from robopass.outbound import GuardedTransport

    return httpx.Client(timeout=httpx.Timeout(TIMEOUT[0], connect=TIMEOUT[1]),
                        transport=transport or GuardedTransport())


def _get_json(client: httpx.Client, url: str, what: str, country: str,
              ok: tuple[int, ...] = (200,)) -> tuple[int, Any]:
    import httpx

    try:
        response = client.get(url, headers={FEDERATED_HEADER: "1", "Accept": "application/json"})
    except httpx.TimeoutException as exc:
        raise PeerError(f"the {country} registry did not answer {what} in time ({url})",
                        code="peer_timeout", country=country) from exc
    except httpx.HTTPError as exc:
        raise PeerError(f"the {country} registry could not be reached for {what} ({url}): "
                        f"{type(exc).__name__}", code="peer_unreachable", country=country) from exc
    if response.status_code not in ok:
        raise PeerError(f"the {country} registry answered {what} with HTTP "
                        f"{response.status_code}", code="peer_bad_answer", country=country)
    if len(response.content) > MAX_BODY:
        raise PeerError(f"the {country} registry's {what} is too large",
                        code="peer_bad_answer", country=country)
    try:
        return response.status_code, response.json()
    except ValueError as exc:
        raise PeerError(f"the {country} registry's {what} is not JSON",
                        code="peer_bad_answer", country=country) from exc


def fetch_jwks(base_url: str, *, country: str = "peer",
               transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """GET ``{base_url}/.well-known/jwks.json``; PeerError unless it is a usable JWK Set."""
    from robopass.ledger.heads import InvalidJWK, public_key_from_jwk

    with _client(transport) as client:
        _, jwks = _get_json(client, f"{base_url}/.well-known/jwks.json", "its JWKS", country)
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise PeerError(f"the {country} registry's JWKS has no keys", code="peer_bad_jwks")
    for jwk in keys:
        try:
            public_key_from_jwk(jwk)
        except InvalidJWK as exc:
            raise PeerError(f"the {country} registry's JWKS holds an unusable key: {exc}",
                            code="peer_bad_jwks") from exc
    return {"keys": keys}


def check_peer(session: Session, *, country: str, base_url: str) -> tuple[str, str]:
    """Normalised ``(country, base_url)`` of a would-be peer; InvalidInput for a bad country,
    this registry's own country or a base URL that is not http(s)."""
    country = check_country(country)
    base_url = normalise_base_url(base_url)
    netguard.check_url(base_url, field="base_url")  # public addresses only (SPEC §12)
    if country == registry_service.country(session):
        raise InvalidInput(f"{country} is this registry's own country", field="country",
                           code="own_country")
    return country, base_url


def add_peer(session: Session, *, country: str, base_url: str,
             jwks: dict[str, Any]) -> Peer:
    """Register (or update) a peer and pin its JWKS. Refuses our own country."""
    country, base_url = check_peer(session, country=country, base_url=base_url)
    now = utcnow()
    peer = session.get(Peer, country)
    if peer is None:
        peer = Peer(country=country, base_url=base_url, jwks=jwks, added_at=now, updated_at=now)
        session.add(peer)
    else:
        peer.base_url, peer.jwks, peer.updated_at = base_url, jwks, now
    session.flush()
    return peer


def list_peers(session: Session) -> list[Peer]:
    return list(session.scalars(select(Peer).order_by(Peer.country)))


def get_peer(session: Session, country: str) -> Peer | None:
    return session.get(Peer, country)


# --- remote verification --------------------------------------------------------------------

def fetch_robot(peer: Peer, code: str, *,
                transport: httpx.BaseTransport | None = None) -> RemoteRobot:
    """Ask ``peer`` about ``code``. Raises PeerError (unreachable, timeout, bad answer) or
    PassportError (the passport does not verify against the pinned JWKS)."""
    with _client(transport) as client:
        _, answer = _get_json(client, f"{peer.base_url}/api/v1/verify/{code}",
                              "the verification", peer.country)
        if not isinstance(answer, dict):
            raise PeerError(f"the {peer.country} registry's verification is not an object",
                            code="peer_bad_answer", country=peer.country)
        if not answer.get("registered"):
            return RemoteRobot(peer.country, answer, None, None, None)
        _, body = _get_json(client, f"{peer.base_url}/api/v1/robots/{code}/passport",
                            "the passport", peer.country)
    token = body.get("passport") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise PassportError("the peer's answer holds no passport", reason="malformed")
    claims = verify_passport(token, peer.jwks, expected_sub=code)
    history = body.get("history")
    if history is not None:
        if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            raise PassportError("the peer's history is not a list of event summaries",
                                reason="history_mismatch")
        try:
            verify_history(claims, history)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, PassportError):
                raise
            raise PassportError("the peer's history is malformed",
                                reason="history_mismatch") from exc
    return RemoteRobot(peer.country, answer, token, claims, history)


def _text(value: Any, limit: int = 200) -> str | None:
    return None if value is None else str(value)[:limit]


def _public_facts(claims: dict[str, Any]) -> dict[str, Any]:
    model: dict[str, Any] = claims["model"] if isinstance(claims.get("model"), dict) else {}
    maker: dict[str, Any] = (claims["manufacturer"] if isinstance(claims.get("manufacturer"),
                                                                  dict) else {})
    recalls = claims.get("open_recalls")
    summary = claims.get("summary") if isinstance(claims.get("summary"), dict) else None
    return {
        "status": _text(claims.get("status"), 20),
        "model": {"name": _text(model.get("name")), "model_code": _text(model.get("model_code"), 6),
                  "status": _text(model.get("status"), 16)},
        "manufacturer": {"name": _text(maker.get("name")),
                         "company_code": _text(maker.get("company_code"), 4),
                         "country": _text(maker.get("country"), 2)},
        "open_recalls": recalls if isinstance(recalls, list) else [],
        "production_month": _text(claims.get("production_month"), 7),
        "summary": {k: summary.get(k) for k in ("production_month", "owners",
                                                "maintenance_count", "incidents",
                                                "battery_health")} if summary else None,
    }


#: Verified answers of peers are reused this long, so a popular foreign code costs its
#: registry two requests a minute per server process, not two per scan.
REMOTE_TTL = 30.0
_remote_cache: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}
_REMOTE_CACHE_MAX = 10_000


def verify_remote(session: Session, code: str, *,
                  transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """The verification answer for another registry's (valid) code, through its peer. Never
    raises: an unknown or unreachable peer and a bad passport become ``reason_code``s. Verified
    answers are cached for :data:`REMOTE_TTL` seconds per (peer, pinned keys, code)."""
    country = code[:2]
    result: dict[str, Any] = {"code": code, "format_valid": True, "registered": False,
                              "status": None, "model": None, "manufacturer": None,
                              "open_recalls": [], "registry": country, "via_peer": True}
    peer = get_peer(session, country)
    if peer is None:
        result.update(reason=f"this code was issued by the {country} registry, which is not a "
                      "known peer of this registry", reason_code="unknown_peer")
        return result
    pin = ",".join(sorted(str(k.get("x")) for k in peer.jwks.get("keys", [])
                          if isinstance(k, dict)))
    key = (peer.base_url, pin, code)
    now = time.monotonic()
    cached = _remote_cache.get(key)
    if cached is not None and cached[0] > now:
        return dict(cached[1])
    answer = _ask_peer(peer, code, result, transport)
    if answer.get("registered") or answer.get("reason_code") == "not_registered":
        if len(_remote_cache) >= _REMOTE_CACHE_MAX:
            _remote_cache.clear()
        _remote_cache[key] = (now + REMOTE_TTL, dict(answer))
    return answer


def _ask_peer(peer: Peer, code: str, result: dict[str, Any],
              transport: httpx.BaseTransport | None) -> dict[str, Any]:
    country = peer.country
    try:
        remote = fetch_robot(peer, code, transport=transport)
    except PeerError as exc:
        result.update(reason=exc.message, reason_code="peer_unreachable")
        return result
    except PassportError as exc:
        result.update(reason=f"the {country} registry's passport failed verification: {exc}",
                      reason_code="passport_invalid", passport_error=exc.reason)
        return result
    if remote.claims is None:
        result.update(reason=_text(remote.verify.get("reason"), 500)
                      or "the code is not registered with its registry",
                      reason_code="not_registered")
        return result
    facts = _public_facts(remote.claims)
    result.update(registered=True, passport_verified=True, **facts)
    model_status = facts["model"]["status"]
    if model_status in ("suspended", "revoked"):
        result.update(reason=f"the product model's filing is {model_status}",
                      reason_code=f"model_{model_status}")
    elif facts["status"] in TERMINAL_STATUSES:
        result.update(reason=f"this robot was {facts['status']} and may not be sold or used",
                      reason_code=f"unit_{facts['status']}")
    elif facts["open_recalls"] or remote.claims.get("open_recall_count"):
        result.update(reason="this robot has an open safety recall", reason_code="open_recall")
    return result


# --- import ---------------------------------------------------------------------------------

def fetch_for_import(session: Session, code: str, *,
                     transport: httpx.BaseTransport | None = None) -> RemoteRobot:
    """Resolve and verify a peer's robot for import (network; call outside a write
    transaction). Raises InvalidInput, NotFound (unknown peer or robot), PeerError, Conflict
    (scrapped/recycled abroad, already here), PassportError."""
    try:
        code = idcode.validate(code)
    except idcode.InvalidCode as exc:
        raise InvalidInput(exc.message, field="code", code=exc.code,
                           position=exc.position) from exc
    own = registry_service.country(session)
    if code[:2] == own:
        raise InvalidInput(f"{code} is this registry's own code; nothing to import",
                           field="code", code="own_code")
    if session.get(Unit, code) is not None:
        raise Conflict(f"{code} is already registered here", code="already_registered")
    peer = get_peer(session, code[:2])
    if peer is None:
        raise NotFound(f"no peer registry for {code[:2]}: add it with `robopass peer add`",
                       code="unknown_peer")
    remote = fetch_robot(peer, code, transport=transport)
    if remote.claims is None:
        raise NotFound(f"the {peer.country} registry has no robot {code}",
                       code="not_registered_abroad")
    status = remote.claims.get("status")
    if status not in UNIT_STATUSES:
        raise PassportError(f"the passport's status {status!r} is not a unit status",
                            reason="invalid_claim")
    if status in TERMINAL_STATUSES:
        raise Conflict(f"the {peer.country} registry says {code} was {status}: a {status} robot "
                       "may not be admitted", code="terminal_abroad", status_abroad=status)
    lives_in = remote.claims.get("exported_to")
    if lives_in:
        raise Conflict(f"the {peer.country} registry says {code} was exported to {lives_in} and "
                       f"lives there: ask the {lives_in} registry", code="lives_elsewhere",
                       lives_in=lives_in)
    if remote.history is None:
        raise PassportError("the peer sent no event summaries for the history digest",
                            reason="history_mismatch")
    return remote


def _shadow_manufacturer(session: Session, country: str, maker: dict[str, Any]) -> Organization:
    """The local stand-in for a foreign manufacturer (no API key, no company code here)."""
    reference = f"{country}:{maker.get('company_code')}"
    org = session.scalar(select(Organization).where(
        Organization.registration_number == reference,
        Organization.country == (maker.get("country") or country)))
    if org is None:
        org = Organization(id=new_id("org"),
                           name=f"{maker.get('name') or 'Unknown'} [{reference}]"[:200],
                           roles=["manufacturer"], country=maker.get("country") or country,
                           registration_number=reference, company_code=None,
                           status="approved", created_at=utcnow())
        session.add(org)
        session.flush()
    return org


def _shadow_model(session: Session, org: Organization, code: str,
                  model: dict[str, Any]) -> ProductModel:
    model_code = code[6:12]
    row = session.scalar(select(ProductModel).where(ProductModel.manufacturer_id == org.id,
                                                    ProductModel.model_code == model_code))
    if row is None:
        row = ProductModel(
            id=new_id("mdl"), manufacturer_id=org.id, company_code=code[2:6],
            model_code=model_code, name=(model.get("name") or model_code)[:200],
            hardware_class=code[19], intelligence_level=int(code[18]), parameters={},
            components=[], software={}, certifications=[],
            status=model.get("status") or "approved",
            status_reason=f"filed with the {code[:2]} registry", filed_at=utcnow())
        session.add(row)
        session.flush()
    return row


def admit(session: Session, remote: RemoteRobot, *, owner_id: str | None = None) -> Unit:
    """Write the imported unit and its evidence (inside the caller's write transaction)."""
    claims = remote.claims
    assert claims is not None and remote.passport is not None and remote.history is not None
    code = str(claims["sub"])
    if session.get(Unit, code) is not None:
        raise Conflict(f"{code} is already registered here", code="already_registered")
    if owner_id is not None and session.get(Organization, owner_id) is None:
        raise InvalidInput(f"no organisation {owner_id!r}", field="owner",
                           code="organization_not_found")
    facts = _public_facts(claims)
    org = _shadow_manufacturer(session, remote.country, facts["manufacturer"])
    model = _shadow_model(session, org, code, facts["model"])
    now = utcnow()
    parsed = idcode.parse(code)
    unit = Unit(code=code, model_id=model.id, manufacturer_id=org.id,
                production_month=facts["production_month"]
                or f"20{code[12:14]}-{code[14:16]}",
                plant=parsed.plant, status=facts["status"] or "sold",
                owner_id=owner_id, issued_at=now, event_count=0,
                open_recalls=0, imported=True, imported_from=remote.country,
                status_index=registry_service.reserve_status_indexes(session, 1))
    session.add(unit)
    session.flush()
    unit_counts.add_unit(session, unit)
    from robopass.passports.verify import decode_unverified

    header, _ = decode_unverified(remote.passport)
    session.add(ImportedRobot(code=code, country=remote.country, passport=remote.passport,
                              kid=str(header.get("kid")), history_digest=claims["history_digest"],
                              history=remote.history, claims=claims, imported_at=now))
    session.flush()
    # SPEC §16: the origin is told, through the outbox, in this same transaction.
    from robopass.federation import handover

    handover.queue_export_notice(session, unit)
    return unit


def imported_record(session: Session, code: str) -> ImportedRobot | None:
    return session.get(ImportedRobot, code)
