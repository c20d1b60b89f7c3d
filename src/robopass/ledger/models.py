"""Storage for the append-only Merkle log (SPEC §5).

* ``ledger_leaves``: index → the exact leaf bytes (JCS text) and its leaf hash (level-0 node).
* ``ledger_nodes``: roots of complete perfect subtrees, (level ≥ 1, index) → hash.
* ``ledger_state``: one row holding the size; PostgreSQL writers lock it (see ``robopass.db``).
* ``tree_heads``: a signed head per committed batch.
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
