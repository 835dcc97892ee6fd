"""Schema changes are Alembic migrations; upgrading a node keeps its data."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from insitu.node.db.engine import make_engine
from insitu.node.db.migrate import MIGRATIONS, current_revision, head_revision, upgrade
from insitu.node.federation.message_files import INLINE_MAX_BYTES, file_name
from insitu.node.federation.store import FederationStore
from insitu.node.store.records import NewRequest, Role
from insitu.node.store.sql import SqlStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_upgrade_from_first_revision_keeps_data(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    store = SqlStore(engine)
    store.add_member("alice", Role.OWNER, at=T0)
    store.add_token("alice", "h" * 64, label="", at=T0, expires_at=None)
    rid = store.add_request(NewRequest("code", "alice", ["d"], {"source": "x"}, "0" * 64), at=T0).id
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert store.get_member("alice").role is Role.OWNER
    assert store.member_for_token("h" * 64, now=T0) is not None
    assert store.get_request(rid).payload == {"source": "x"}
    store.close()


def test_revisions_form_one_line() -> None:
    script = ScriptDirectory(str(MIGRATIONS))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions[-1].revision == "0001"


def test_upgrade_keeps_peer_messages_and_stores_large_ones_in_files(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO peer_messages (collab_id, sender, receiver, msg_id, sha256, "
                "payload, received_at) VALUES ('c', 's', 'r', 'm', :h, :p, :t)"
            ),
            {"h": hashlib.sha256(b"kept").hexdigest(), "p": b"kept", "t": T0},
        )
    upgrade(engine)
    store = FederationStore(SqlStore(engine), message_dir=tmp_path / "messages")
    assert store.get_message(("c", "s", "r", "m")) == b"kept"
    big = bytes(INLINE_MAX_BYTES + 1)
    assert store.put_message(("c", "s", "r", "big"), big, at=T0)
    assert store.get_message(("c", "s", "r", "big")) == big
    assert [p.name for p in (tmp_path / "messages").iterdir()] == [
        file_name(("c", "s", "r", "big"))
    ]
    store.sql.close()
