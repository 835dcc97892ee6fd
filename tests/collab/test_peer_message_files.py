"""Large peer messages live in files beside the database; small ones in it. Both survive a
restart, are handed to a reader of the same process without a database read, and are
deleted with their collaboration. Large ones are spooled to disk while their frames arrive."""

from __future__ import annotations

import ctypes
import hashlib
import mmap
import os
import random
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from insitu.errors import InternalError, ProtocolAbort, Unavailable
from insitu.federation.messages import Chunker, Envelope
from insitu.node.db.schema import PeerMessageRow
from insitu.node.federation.db_stores import DbInbox
from insitu.node.federation.message_files import INLINE_MAX_BYTES, MessageFiles, file_name
from insitu.node.federation.spool import Spool, SpoolingReassembler
from insitu.node.federation.store import FederationStore
from insitu.node.node import Node

KEY = ("c1", "north", "south", "big")
BIG = os.urandom(INLINE_MAX_BYTES + 12345)


def stores(node: Node, **inbox_options: object) -> tuple[FederationStore, DbInbox, Path]:
    """A fresh store and inbox over the node's database and message directory
    (what another process of the node, or the node after a restart, has)."""
    folder = node.settings.data_dir / "peer-messages"
    store = FederationStore(node.store, message_dir=folder)
    return store, DbInbox(store, node.clock, **inbox_options), folder  # type: ignore[arg-type]


def row(node: Node, key: tuple[str, str, str, str]) -> PeerMessageRow:
    with node.store.session() as s:
        found = s.scalar(select(PeerMessageRow).where(PeerMessageRow.msg_id == key[3]))
        assert found is not None
        s.expunge(found)
        return found


def test_large_payload_is_a_file_small_one_a_row(node: Node) -> None:
    _, inbox, folder = stores(node)
    small = ("c1", "north", "south", "small")
    assert inbox.put(KEY, BIG)
    assert inbox.put(small, b"tiny")
    big_row, small_row = row(node, KEY), row(node, small)
    assert big_row.payload is None and big_row.file == file_name(KEY)
    assert (folder / file_name(KEY)).read_bytes() == BIG
    assert big_row.sha256 == hashlib.sha256(BIG).hexdigest()
    assert small_row.payload == b"tiny" and small_row.file is None
    # after a restart (nothing in memory) both are read from where they are kept
    _, again, _ = stores(node)
    assert again.get(KEY, timeout=0) == BIG
    assert again.get(small, timeout=0) == b"tiny"


def test_large_payload_is_idempotent_and_refuses_other_bytes(node: Node) -> None:
    _, inbox, folder = stores(node)
    assert inbox.put(KEY, BIG)
    assert not inbox.put(KEY, BIG)
    with pytest.raises(ProtocolAbort, match="differing"):
        inbox.put(KEY, BIG[::-1])
    assert inbox.get(KEY, timeout=0) == BIG
    assert [p.name for p in folder.iterdir()] == [file_name(KEY)]  # no stray files


def test_discard_deletes_rows_and_files(node: Node) -> None:
    _, inbox, folder = stores(node)
    other = ("c2", "north", "south", "big")
    inbox.put(KEY, BIG)
    inbox.put(other, BIG)
    inbox.put(("c1", "north", "south", "small"), b"s")
    assert inbox.discard("c1") == 2
    assert [p.name for p in folder.iterdir()] == [file_name(other)]
    with pytest.raises(Unavailable):
        inbox.get(KEY, timeout=0)
    assert inbox.get(other, timeout=0) == BIG


def test_damaged_or_missing_file_is_an_error_not_a_payload(node: Node) -> None:
    _, inbox, folder = stores(node)
    inbox.put(KEY, BIG)
    path = folder / file_name(KEY)
    path.write_bytes(b"x" + BIG[1:])
    _, restarted, _ = stores(node)
    with pytest.raises(InternalError, match="does not match"):
        restarted.get(KEY, timeout=0)
    path.unlink()
    with pytest.raises(InternalError, match="missing"):
        restarted.get(KEY, timeout=0)


def test_store_without_a_message_directory_keeps_everything_inline(node: Node) -> None:
    store = FederationStore(node.store)
    assert store.put_message(KEY, BIG, at=node.clock())
    assert row(node, KEY).payload == BIG
    assert store.get_message(KEY) == BIG


def test_file_backed_row_needs_the_directory(node: Node) -> None:
    _, inbox, _ = stores(node)
    inbox.put(KEY, BIG)
    with pytest.raises(InternalError, match="no message directory"):
        FederationStore(node.store).get_message(KEY)


def test_file_names_are_checked(tmp_path: Path) -> None:
    files = MessageFiles(tmp_path)
    for bad in ("../x", "a" * 63, "A" * 64, ""):
        with pytest.raises(InternalError):
            files.read(bad, "0" * 64)
    assert file_name(("a", "b", "c", "d")) != file_name(("a", "b", "cd", ""))


# -- handing a message to a reader in the same process ---------------------------------------
def test_reader_in_the_same_process_takes_the_message_from_memory(node: Node) -> None:
    _, inbox, folder = stores(node)
    inbox.put(KEY, BIG)
    assert inbox.held_bytes == len(BIG)
    (folder / file_name(KEY)).unlink()  # proves the first read does not touch the store
    assert inbox.get(KEY, timeout=0) == BIG
    assert inbox.held_bytes == 0
    with pytest.raises(InternalError, match="missing"):  # asked again: read from the store
        inbox.get(KEY, timeout=0)


def test_handoff_is_bounded_and_dropped_with_the_collaboration(node: Node) -> None:
    _, inbox, _ = stores(node, handoff_bytes=len(BIG) + 5)
    inbox.put(("c1", "north", "south", "a"), b"0123456789")
    inbox.put(KEY, BIG)  # the older message is let go to stay within the bound
    assert inbox.held_bytes == len(BIG)
    inbox.put(("c1", "north", "south", "huge"), BIG + b"!!!!!!!!!!!")  # over the bound: not held
    assert inbox.held_bytes == len(BIG)
    assert inbox.get(("c1", "north", "south", "a"), timeout=0) == b"0123456789"  # from the store
    inbox.discard("c1")
    assert inbox.held_bytes == 0
    with pytest.raises(ValueError):
        stores(node, handoff_bytes=-1)


def test_a_message_whose_transaction_rolls_back_is_not_handed_off(node: Node) -> None:
    _, inbox, _ = stores(node)
    with pytest.raises(RuntimeError), node.store.transaction():
        inbox.put(("c1", "north", "south", "small"), b"never committed")
        raise RuntimeError("rolled back")
    assert inbox.held_bytes == 0
    with pytest.raises(Unavailable):
        inbox.get(("c1", "north", "south", "small"), timeout=0)


# -- spooling large messages while their frames arrive ------------------------------------
def frames(payload: bytes, key: tuple[str, str, str, str] = KEY) -> list[Envelope]:
    collab_id, sender, receiver, msg_id = key
    return list(
        Chunker(64 << 10).split(
            payload, collab_id=collab_id, sender=sender, receiver=receiver, msg_id=msg_id
        )
    )


def spooling(node: Node) -> tuple[SpoolingReassembler, DbInbox, Path]:
    store, _, folder = stores(node)
    reassembler = SpoolingReassembler(Spool(folder))
    return reassembler, DbInbox(store, node.clock, reassembler=reassembler), folder


def test_spooled_file_is_adopted_whatever_the_order_of_frames(node: Node) -> None:
    reassembler, inbox, folder = spooling(node)
    arrivals = frames(BIG)
    random.Random(7).shuffle(arrivals)
    for frame in arrivals[:-1]:
        assert reassembler.accept(frame) is None
    assert len(reassembler.spool) == 1
    delivered = reassembler.accept_message(arrivals[-1])
    assert delivered is not None
    payload, sha256 = delivered
    assert payload == BIG and sha256 == hashlib.sha256(BIG).digest()
    assert inbox.put_checked(KEY, payload, sha256=sha256)
    assert [p.name for p in folder.iterdir()] == [file_name(KEY)]  # renamed, nothing left
    assert (folder / file_name(KEY)).read_bytes() == BIG
    assert len(reassembler.spool) == 0
    reassembler.spool.discard()


def cached_bytes(path: Path) -> int:
    """Bytes of ``path`` in the page cache, from ``mincore`` over a read-only mapping
    (mapping a file faults none of its pages in)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]  # fmt: skip
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size = path.stat().st_size
    page = mmap.PAGESIZE
    with open(path, "rb") as f:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, f.fileno(), 0)
    assert addr not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
    try:
        vec = ctypes.create_string_buffer((size + page - 1) // page)
        assert libc.mincore(addr, size, vec) == 0, os.strerror(ctypes.get_errno())
        return sum(b & 1 for b in vec.raw) * page
    finally:
        libc.munmap(addr, size)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore is read on Linux only")
def test_message_files_leave_the_page_cache_once_on_disk(node: Node) -> None:
    # a node receives message after message: kept cached, each would take fresh memory
    reassembler, inbox, folder = spooling(node)
    payload = None
    for frame in frames(BIG):
        payload = reassembler.accept(frame)
    assert payload == BIG
    assert inbox.put_checked(KEY, payload, sha256=hashlib.sha256(BIG).digest())
    written = ("c1", "north", "south", "written")
    assert inbox.put(written, BIG)  # not spooled: the store writes the file itself
    for key in (KEY, written):
        path = folder / file_name(key)
        assert path.stat().st_size == len(BIG)
        assert cached_bytes(path) < len(BIG) // 2
        assert path.read_bytes() == BIG  # and reading it back caches it as usual
        assert cached_bytes(path) == -(-len(BIG) // mmap.PAGESIZE) * mmap.PAGESIZE
    reassembler.spool.discard()


def test_spooled_message_that_is_already_stored_leaves_no_file(node: Node) -> None:
    reassembler, inbox, folder = spooling(node)
    inbox.put(KEY, BIG)
    fresh = SpoolingReassembler(reassembler.spool)  # the route forgot it (a restart)
    payload = None
    for frame in frames(BIG):
        payload = fresh.accept(frame)
    assert payload == BIG
    again = DbInbox(FederationStore(node.store, message_dir=folder), node.clock, reassembler=fresh)
    assert not again.put_checked(KEY, payload, sha256=hashlib.sha256(BIG).digest())
    assert [p.name for p in folder.iterdir()] == [file_name(KEY)]
    reassembler.spool.discard()


def test_forged_whole_message_hash_is_refused_and_its_spool_deleted(node: Node) -> None:
    reassembler, _, folder = spooling(node)
    other = hashlib.sha256(b"something else").digest()
    *forged, last = frames(BIG)
    forged.append(
        Envelope(
            last.collab_id, last.sender, last.receiver, last.msg_id, last.chunk_index,
            last.chunk_count, last.total_size, other, last.payload,
        )
    )  # fmt: skip
    for frame in forged[:-1]:
        reassembler.accept(frame)
    with pytest.raises(ProtocolAbort, match="SHA-256"):
        reassembler.accept(forged[-1])
    reassembler.spool.discard()  # waits for the helper thread
    assert list(folder.iterdir()) == []


def test_discarding_a_collaboration_drops_its_partial_messages_and_spools(node: Node) -> None:
    reassembler, inbox, folder = spooling(node)
    for frame in frames(BIG)[:2]:
        reassembler.accept(frame)
    assert reassembler.pending_bytes > 0 and len(reassembler.spool) == 1
    inbox.discard("c1")
    assert reassembler.pending_bytes == 0 and len(reassembler.spool) == 0
    reassembler.spool.discard()
    assert list(folder.iterdir()) == []


def test_small_or_single_frame_messages_are_not_spooled(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    reassembler = SpoolingReassembler(spool)
    small = os.urandom(INLINE_MAX_BYTES)
    split = list(Chunker(1000).split(small, collab_id="c", sender="a", receiver="b", msg_id="m"))
    for frame in split:
        reassembler.accept(frame)
    (single,) = Chunker(len(BIG)).split(BIG, collab_id="c", sender="a", receiver="b", msg_id="n")
    assert reassembler.accept(single) == BIG
    assert len(spool) == 0 and spool.take(("c", "a", "b", "n")) is None
    spool.discard()
    assert list(tmp_path.iterdir()) == []


def test_sweep_removes_old_spool_files_only(node: Node) -> None:
    """Spool files a stopped node left behind go at the next start; live or recent ones stay."""
    reassembler, _, folder = spooling(node)
    for frame in frames(BIG)[:2]:
        reassembler.accept(frame)  # a message being received right now
    (live,) = folder.glob(".spool.*.tmp")
    stale, recent = folder / ".spool.old.tmp", folder / ".spool.new.tmp"
    stale.write_bytes(b"left by a crash")
    recent.write_bytes(b"another process, just now")
    kept_file = folder / "not-a-spool.bin"
    kept_file.write_bytes(b"x")
    day_ago = os.path.getmtime(recent) - 86_400
    os.utime(stale, (day_ago, day_ago))
    os.utime(live, (day_ago, day_ago))  # old mtime, but held by this spool
    assert reassembler.spool.sweep(older_than=3600) == 1
    assert not stale.exists() and recent.exists() and live.exists() and kept_file.exists()
    reassembler.spool.discard()


def test_a_node_start_sweeps_what_an_earlier_run_left(node: Node) -> None:
    folder = node.settings.data_dir / "peer-messages"
    folder.mkdir(parents=True, exist_ok=True)
    stale = folder / ".spool.crashed.tmp"
    stale.write_bytes(b"half a message")
    os.utime(stale, (0, 0))
    node.federation.start()
    try:
        assert not stale.exists()
    finally:
        node.federation.stop()
