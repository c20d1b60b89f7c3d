"""Storage for the append-only Merkle log (SPEC §5).

* ``ledger_leaves``: index → the exact leaf bytes (JCS text) and its leaf hash (level-0 node).
* ``ledger_nodes``: roots of complete perfect subtrees, (level ≥ 1, index) → hash.
* ``ledger_state``: one row holding the size; PostgreSQL writers lock it (see ``robopass.db``).
* ``tree_heads``: a signed head per committed batch.
* ``ledger_witnesses``: the witnesses this registry submits checkpoints to (SPEC §15), with
  the latest cosignature each returned.
* ``signing_keys``: Ed25519 keys; retired keys stay published so old signatures verify.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from robopass.db import Base, UTCDateTime


class LedgerLeaf(Base):
    __tablename__ = "ledger_leaves"

    index: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                       primary_key=True, autoincrement=False)
    leaf: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerNode(Base):
    __tablename__ = "ledger_nodes"
    __table_args__ = {"sqlite_with_rowid": False}

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                       primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerState(Base):
    __tablename__ = "ledger_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)


class TreeHead(Base):
    __tablename__ = "tree_heads"

    size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                      primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[str] = mapped_column(String(40))
    #: The origin the head was signed under (heads signed before migration 0005 keep theirs).
    origin: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: PKCS#8 PEM of the Ed25519 private key (protect the database like a key store).
    private_pem: Mapped[str] = mapped_column(Text)
    public_x: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LedgerWitness(Base):
    """A tlog-witness this registry submits its checkpoints to (SPEC §15)."""

    __tablename__ = "ledger_witnesses"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: Submission prefix: ``POST {url}/add-checkpoint``.
    url: Mapped[str] = mapped_column(String(500))
    #: The witness's verifier key ``name+hash+base64(0x04 ‖ key)``.
    vkey: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The size the witness last cosigned (as far as we know); None before the first answer.
    known_size: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    #: The latest cosignature line and the checkpoint (size, hex root) it covers.
    cosigned_size: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer,
                                                                                 "sqlite"))
    cosigned_root: Mapped[str | None] = mapped_column(String(64))
    cosignature: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
