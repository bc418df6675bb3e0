"""File-watch policy with explicit times: net changes, trailing windows, bounds, names, diffs."""

from __future__ import annotations

import pytest

from greenroom.triggers.debounce import (
    Debouncer,
    NetChange,
    diff_snapshots,
    event_wanted,
    is_ignored,
    name_wanted,
)


def _net(debouncer: Debouncer, now: float) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {c.path: (c.event_type, c.raw_types) for c in debouncer.due(now)}


def test_single_change_is_due_after_the_window() -> None:
    d = Debouncer(0.5)
    d.add("/w/a", "created", 10.0)
    assert d.next_deadline() == 10.5
    assert d.due(10.4) == []
    assert d.due(10.5) == [NetChange("/w/a", "created", ("created",))]
    assert d.next_deadline() is None
    assert len(d) == 0


def test_window_trails_the_last_raw_change() -> None:
    d = Debouncer(0.5)
    for i in range(20):
        d.add("/w/a", "modified", 10.0 + i * 0.1)
    assert d.next_deadline() == pytest.approx(12.4)
    assert d.due(12.3) == []
    assert d.due(12.4) == [NetChange("/w/a", "modified", ("modified",))]


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (["created", "modified"], "created"),
        (["created", "deleted"], None),
        (["created", "modified", "deleted"], None),
        (["modified", "modified"], "modified"),
        (["deleted"], "deleted"),
        (["modified", "deleted"], "deleted"),
        (["deleted", "created"], "modified"),
        (["deleted", "created", "deleted"], "deleted"),
        (["created", "deleted", "created"], "created"),
    ],
)
def test_raw_changes_merge_into_one_net_change(kinds: list[str], expected: str | None) -> None:
    d = Debouncer(1.0)
    for i, kind in enumerate(kinds):
        d.add("/w/a", kind, float(i))
    changes = d.due(100.0)
    if expected is None:
        assert changes == []
    else:
        assert [(c.event_type, c.raw_types) for c in changes] == [
            (expected, tuple(dict.fromkeys(kinds)))
        ]


def test_a_move_leaves_its_source_and_reaches_its_destination() -> None:
    d = Debouncer(1.0)
    d.add("/w/a.txt", "moved", 0.0, "/w/b.txt")
    assert _net(d, 5.0) == {
        "/w/a.txt": ("deleted", ("moved",)),
        "/w/b.txt": ("moved", ("moved",)),
    }


def test_atomic_save_is_one_modification_of_the_target() -> None:
    d = Debouncer(1.0)
    d.add("/w/.report.csv.x1", "created", 0.0)
    d.add("/w/.report.csv.x1", "modified", 0.1)
    d.add("/w/.report.csv.x1", "moved", 0.2, "/w/report.csv", replaced=True)
    assert _net(d, 5.0) == {"/w/report.csv": ("modified", ("moved",))}


def test_vim_backup_save_is_one_modification() -> None:
    d = Debouncer(1.0)
    d.add("/w/notes.txt", "moved", 0.0, "/w/notes.txt~")
    d.add("/w/notes.txt", "created", 0.1)
    d.add("/w/notes.txt", "modified", 0.2)
    d.add("/w/notes.txt~", "deleted", 0.3)
    assert _net(d, 5.0) == {"/w/notes.txt": ("modified", ("moved", "created", "modified"))}


def test_due_returns_oldest_first_and_leaves_the_rest() -> None:
    d = Debouncer(1.0)
    d.add("/w/a", "created", 0.0)
    d.add("/w/b", "created", 0.5)
    d.add("/w/a", "modified", 0.7)
    assert d.next_deadline() == 1.5
    assert [c.path for c in d.due(1.6)] == ["/w/b"]
    assert d.next_deadline() == pytest.approx(1.7)
    assert [c.path for c in d.due(2.0)] == ["/w/a"]


def test_zero_window_is_due_at_once() -> None:
    d = Debouncer(0.0)
    d.add("/w/a", "modified", 3.0)
    assert d.next_deadline() == 3.0
    assert [c.path for c in d.due(3.0)] == ["/w/a"]


def test_pending_paths_are_bounded_and_drops_counted() -> None:
    d = Debouncer(1.0, max_pending=2)
    d.add("/w/a", "created", 0.0)
    d.add("/w/b", "created", 0.0)
    d.add("/w/c", "created", 0.0)
    d.add("/w/a", "modified", 0.1)
    assert len(d) == 2
    assert d.dropped == 1
    assert sorted(c.path for c in d.due(5.0)) == ["/w/a", "/w/b"]
    d.add("/w/c", "created", 6.0)
    assert [c.path for c in d.due(8.0)] == ["/w/c"]


def test_keep_selects_the_paths_tracked() -> None:
    d = Debouncer(1.0, keep=lambda path: path.endswith(".csv"))
    d.add("/w/a.txt", "created", 0.0)
    d.add("/w/a.part", "moved", 0.0, "/w/a.csv")
    assert len(d) == 1
    assert _net(d, 5.0) == {"/w/a.csv": ("moved", ("moved",))}


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        Debouncer(-1.0)
    with pytest.raises(ValueError, match="max_pending"):
        Debouncer(1.0, max_pending=0)
    d = Debouncer(1.0)
    with pytest.raises(ValueError, match="kind"):
        d.add("/w/a", "opened", 0.0)
    with pytest.raises(ValueError, match="dest"):
        d.add("/w/a", "created", 0.0, "/w/b")


@pytest.mark.parametrize(
    ("event_type", "watch_events", "wanted"),
    [
        ("created", ["created", "modified"], True),
        ("modified", ["created", "modified"], True),
        ("deleted", ["created", "modified"], False),
        ("deleted", ["deleted"], True),
        ("moved", ["moved"], True),
        ("moved", ["created"], True),
        ("moved", ["modified", "deleted"], False),
        ("created", ["moved"], False),
    ],
)
def test_watch_events_select_net_types(
    event_type: str, watch_events: list[str], wanted: bool
) -> None:
    assert event_wanted(NetChange("/w/a", event_type, ()), watch_events) is wanted


@pytest.mark.parametrize(
    "name",
    [".notes.txt.swp", ".notes.txt.swo", ".notes.txt.swx", "4913", "notes.txt~", ".#notes.txt",
     "#notes.txt#", "upload.tmp", ".report.csv.tmp", ".goutputstream-XYZ123"],
)
def test_editor_temp_and_backup_names_are_ignored(name: str) -> None:
    assert is_ignored(name)
    assert not name_wanted(name, ["*"])


@pytest.mark.parametrize("name", ["notes.txt", "report.csv", "swp", "tmp.csv", "49130", "a#b"])
def test_ordinary_names_are_not_ignored(name: str) -> None:
    assert not is_ignored(name)
    assert name_wanted(name, ["*"])


def test_patterns_select_names() -> None:
    assert name_wanted("data.csv", ["*.csv", "*.json"])
    assert name_wanted("data.json", ["*.csv", "*.json"])
    assert not name_wanted("data.txt", ["*.csv", "*.json"])


def test_snapshot_diff_lists_created_deleted_and_changed_files() -> None:
    old = {"/w/a": (1, 10), "/w/b": (1, 10), "/w/c": (1, 10)}
    new = {"/w/a": (1, 10), "/w/b": (2, 10), "/w/d": (1, 1)}
    assert diff_snapshots(old, new) == [
        ("/w/b", "modified"), ("/w/c", "deleted"), ("/w/d", "created"),
    ]
    assert diff_snapshots(new, new) == []
