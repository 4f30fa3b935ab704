"""`tokens calendar`: the feed parsed back with the icalendar library (events, alarms,
UIDs, revisions across a rotation), what it never contains, hostile metadata, team mode,
and how the output file is written."""

from __future__ import annotations

import os
import stat
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import icalendar
import pytest
from dateutil.relativedelta import relativedelta
from pypitoken import Token

from tests.conftest import CANARY
from tests.test_remind import FakeMetadataStore, remote, run_cli
from tests.test_schedule import crontab, home, run_cron_command, units  # noqa: F401 - fixtures
from tokenward import calendar_feed
from tokenward.inventory import TokenRecord
from tokenward.policy import parse_period

NOW = datetime.now(timezone.utc).replace(microsecond=0)


class TeamStore(FakeMetadataStore):
    """test_remind's in-memory metadata store, with the whole MetadataStore protocol."""

    def entry(self, token: str):
        return self.entries.get(token)


@pytest.fixture
def fake_team_store(monkeypatch, write_config):
    from tokenward.stores import base

    monkeypatch.setitem(base.REGISTRY, "vault", base.StoreType(f"{__name__}:TeamStore", base.REGISTRY["vault"].options))
    TeamStore.entries = {}
    write_config('[stores.keyring]\n[stores.team]\ntype = "vault"\nurl = "http://127.0.0.1:9"\n')
    return TeamStore


def day(offset: int) -> date:
    return (NOW + timedelta(days=offset)).date()


def stamp(offset: int) -> str:
    return (NOW + timedelta(days=offset)).strftime("%Y-%m-%dT%H:%M:%S")


def parse(text: str | bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(text)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    events = {str(e["SUMMARY"]).split()[1]: e for e in calendar.walk("VEVENT")}
    assert len(events) == len(calendar.walk("VEVENT"))
    return events


def pypi_value(identifier: str) -> str:
    return Token.create(domain="pypi.org", identifier=identifier, key="k" * 32).dump()


@pytest.fixture
def inventory(tokens, file_keyring):
    tokens.add_many([
        (["pypi-foo", "--created", stamp(-80), "--purpose", "publish foo from CI"], pypi_value("a")),
        (["gh-ci", "--created", stamp(-10), "--expires", stamp(30), "--purpose", "release bot"], CANARY),
        (["npm-later", "--created", stamp(-1), "--rotate-every", "1y"], "npm_abcdef0123456789"),
    ])


def test_feed_has_one_event_per_token_with_alarm_uid_and_description(tokens, inventory):
    result = tokens("calendar")
    assert result.returncode == 0, result
    assert CANARY not in result.stdout + result.stderr
    assert "\r\n" in result.stdout  # RFC 5545 content lines
    events = parse(result.stdout)
    assert set(events) == {"pypi-foo", "gh-ci", "npm-later"}

    foo = events["pypi-foo"]
    assert str(foo["SUMMARY"]) == "Rotate pypi-foo (pypi)"
    assert foo.decoded("DTSTART") == day(10)  # rotation due 90d after creation, an all-day event
    assert foo.decoded("DTEND") == day(11)
    description = str(foo["DESCRIPTION"])
    assert description.startswith("publish foo from CI\n")
    assert "Rotate: tokens rotate pypi-foo" in description
    assert "https://pypi.org/manage/account/token/" in description
    assert str(foo["URL"]) == "https://pypi.org/manage/account/token/"
    (alarm,) = foo.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm.decoded("TRIGGER") == -timedelta(days=14)  # defaults.warn_before
    assert str(foo["UID"]).endswith("@tokenward")
    assert foo.decoded("DTSTAMP") == foo.decoded("LAST-MODIFIED")
    assert int(foo["SEQUENCE"]) >= 0

    # The hard expiry comes before the rotation date: the event is on the expiry.
    gh = events["gh-ci"]
    assert gh.decoded("DTSTART") == day(30)
    assert "Expires " in str(gh["DESCRIPTION"]) and "github.com/settings/tokens" in str(gh["DESCRIPTION"])
    assert events["npm-later"].decoded("DTSTART") == (NOW - timedelta(days=1) + relativedelta(years=1)).date()
    assert len({str(e["UID"]) for e in events.values()}) == 3


def test_rotation_keeps_uid_moves_date_and_bumps_sequence(tokens, inventory, tmp_path):
    feed = tmp_path / "tokens.ics"
    assert tokens("calendar", "--output", str(feed)).returncode == 0
    before = parse(feed.read_bytes())
    again = tokens("calendar", "--output", str(feed), "--quiet")
    assert again.returncode == 0 and again.stderr == ""
    unchanged = parse(feed.read_bytes())
    # Nothing changed: the same revision, byte for byte the same event.
    assert unchanged["pypi-foo"].to_ical() == before["pypi-foo"].to_ical()

    rotated = tokens("rotate", "pypi-foo", "--yes", input=pypi_value("b") + "\n")
    assert rotated.returncode == 0, rotated
    assert tokens("calendar", "--output", str(feed)).returncode == 0
    after = parse(feed.read_bytes())
    old, new = before["pypi-foo"], after["pypi-foo"]
    assert str(new["UID"]) == str(old["UID"])
    assert new.decoded("DTSTART") == day(90) and old.decoded("DTSTART") == day(10)
    assert int(new["SEQUENCE"]) > int(old["SEQUENCE"])
    assert new.decoded("LAST-MODIFIED") >= old.decoded("LAST-MODIFIED")
    # The other tokens' events did not change.
    assert after["gh-ci"].to_ical() == before["gh-ci"].to_ical()


def test_uid_is_not_derived_from_the_value_and_differs_per_inventory():
    created = datetime(2026, 1, 1, tzinfo=timezone.utc)
    record = TokenRecord(name="t", kind="generic", created_at=created, rotated_at=created, stores=("keyring",), fingerprint="ab" * 8)
    assert calendar_feed.event_uid(record) == calendar_feed.event_uid(record.with_(fingerprint="cd" * 8, rotated_at=NOW))
    assert calendar_feed.event_uid(record) != calendar_feed.event_uid(record.with_(created_at=created + timedelta(seconds=1)))


def test_sequence_never_goes_back_when_the_state_is_lost(tokens, inventory, data_dir):
    first = parse(tokens("calendar").stdout)
    (data_dir / calendar_feed.STATE_FILE).unlink()
    second = parse(tokens("calendar").stdout)
    assert int(second["gh-ci"]["SEQUENCE"]) >= int(first["gh-ci"]["SEQUENCE"])
    (data_dir / calendar_feed.STATE_FILE).write_text('{"version": 1, "sources": {"local": {"x": 5}}, "junk": [')
    assert tokens("calendar").returncode == 0


def test_feed_is_written_when_revisions_cannot_be_remembered(tokens, inventory, data_dir):
    first = parse(tokens("calendar").stdout)
    state = data_dir / calendar_feed.STATE_FILE
    state.unlink()
    state.mkdir()  # unreadable and unwritable as a file, even for root
    result = tokens("calendar")
    assert result.returncode == 0, result
    assert f"Warning: cannot remember the feed's revisions in {state} (" in result.stderr
    again = parse(result.stdout)
    assert set(again) == set(first)
    assert int(again["gh-ci"]["SEQUENCE"]) >= int(first["gh-ci"]["SEQUENCE"])


def test_registry_expiry_is_a_deadline_when_verify_learnt_it_about_the_current_value():
    created = NOW - timedelta(days=5)
    record = TokenRecord(
        name="gl", kind="gitlab", created_at=created, rotated_at=created, stores=("keyring",), fingerprint="ab" * 8,
        rotate_every="90d", verified_at=NOW - timedelta(days=1), verify_result="live", registry_expires_at=NOW + timedelta(days=7),
    )  # fmt: skip
    (item,) = calendar_feed.contents([record], parse_period("1mo"))
    assert item.day == day(7)
    assert "Expires at the registry" in item.description
    assert 28 <= item.warn_days <= 31
    # Verified before the last rotation: that was another value's expiry.
    (item,) = calendar_feed.contents([record.with_(rotated_at=NOW)], parse_period("14d"))
    assert item.day == day(90) and "registry" not in item.description
    (item,) = calendar_feed.contents([record.with_(verify_result="revoked")], parse_period("14d"))
    assert "The registry says it is revoked" in item.description


def test_hostile_metadata_stays_inside_its_property(fake_team_store, capsys):
    evil = "line1\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:owned\x00\x1b[31m; ,\\ <script>"
    fake_team_store.entries = {
        "evil": remote("evil", rotated_days_ago=10, purpose=evil, kind="npm"),
        "odd-kind": remote("odd-kind", rotated_days_ago=10, kind="weird\r\nX-INJECT:1"),
    }
    code, out, err = run_cli(capsys, "calendar", "--store", "team")
    assert code == 0, err
    events = parse(out)
    assert set(events) == {"evil", "odd-kind"}
    description = str(events["evil"]["DESCRIPTION"])
    assert "END:VEVENT" in description and "<script>" in description
    assert "\x00" not in description and "\x1b" not in description
    assert "X-INJECT" not in icalendar.Calendar.from_ical(out).walk("VEVENT")[0]
    assert str(events["odd-kind"]["SUMMARY"]) == "Rotate odd-kind (weird X-INJECT:1)"


def test_team_mode_gives_the_same_uids_as_the_local_inventory(fake_team_store, capsys):
    fake_team_store.entries = {"pypi-team": remote("pypi-team", rotated_days_ago=30)}
    code, out, _ = run_cli(capsys, "calendar", "--store", "team")
    assert code == 0
    (event,) = parse(out).values()
    created = datetime.fromisoformat(fake_team_store.entries["pypi-team"].metadata["created_at"])
    record = TokenRecord(name="pypi-team", kind="pypi", created_at=created, rotated_at=NOW, stores=("keyring",), fingerprint="00")
    assert str(event["UID"]) == calendar_feed.event_uid(record)
    assert str(icalendar.Calendar.from_ical(out)["X-WR-CALNAME"]).endswith("(team)")


# -- the output file ------------------------------------------------------------------


def test_output_file_is_private_atomic_and_keeps_a_chosen_mode(tokens, inventory, tmp_path):
    feed = tmp_path / "out" / "tokens.ics"
    feed.parent.mkdir()
    result = tokens("calendar", "-o", str(feed))
    assert result.returncode == 0, result
    assert result.stderr.strip() == f"Wrote 3 events to {feed}."
    assert stat.S_IMODE(feed.stat().st_mode) == 0o600
    os.chmod(feed, 0o644)  # the user lets a web server read it
    assert tokens("calendar", "-o", str(feed)).returncode == 0
    assert stat.S_IMODE(feed.stat().st_mode) == 0o644
    assert sorted(p.name for p in feed.parent.iterdir()) == ["tokens.ics"]  # no temporary file left


def test_output_refuses_others_symlinks_and_non_files(tokens, inventory, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    link = tmp_path / "planted.ics"
    link.symlink_to(victim)
    if os.geteuid() == 0:
        os.lchown(link, 65534, 65534)  # planted by another user
        result = tokens("calendar", "-o", str(link))
        assert result.returncode == 2, result
        assert result.stderr == f"Error: refusing to write {link}: the symbolic link {link} belongs to nobody, who could point it anywhere; refusing to follow it\n"
        assert victim.read_text() == "keep me" and link.is_symlink()
        os.lchown(link, 0, 0)
    # Our own symlink is followed: the file it points at is replaced, the link stays.
    assert tokens("calendar", "-o", str(link)).returncode == 0
    assert link.is_symlink() and "BEGIN:VCALENDAR" in victim.read_text()

    fifo = tmp_path / "fifo.ics"
    os.mkfifo(fifo)
    for target, message in (
        (fifo, "cannot write {}: not a regular file"),
        (tmp_path / "missing" / "x.ics", "cannot write {}: No such file or directory"),
        (tmp_path, "is a directory"),
    ):
        result = tokens("calendar", "-o", str(target))
        assert result.returncode == 2, result
        assert result.stderr.startswith("Error: ") and message.format(target) in result.stderr
        assert len(result.stderr.splitlines()) == 1


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: a file owned by another user cannot be made without it")


def test_output_through_a_chain_with_another_users_link_is_refused(tokens, inventory, tmp_path):
    """Our link -> nobody's link in a shared dir -> victim: every link on the way must be ours."""
    needs_root()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    planted = shared / "cal.ics"
    planted.symlink_to(victim)
    os.lchown(planted, 65534, 65534)
    ours = tmp_path / "mylink2.ics"
    ours.symlink_to(planted)
    result = tokens("calendar", "-o", str(ours))
    assert result.returncode == 2, result
    assert result.stderr == (
        f"Error: refusing to write {ours}: the symbolic link {planted} belongs to nobody, who could point it anywhere; "
        "refusing to follow it\n"
    )
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize("dir_mode", [0o777, 0o1777, 0o770])
def test_output_into_a_directory_others_may_write_is_refused(tokens, inventory, tmp_path, dir_mode):
    """Another user could swap the file between our check and our rename."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, dir_mode)
    if dir_mode == 0o770:
        from tests.other_user import shared_group

        os.chown(shared, -1, shared_group())
    result = tokens("calendar", "-o", str(shared / "tokens.ics"))
    assert result.returncode == 2, result
    assert result.stderr.startswith(f"Error: refusing to write {shared / 'tokens.ics'}: directory {shared} is writable by other users")
    assert len(result.stderr.splitlines()) == 1 and list(shared.iterdir()) == []


def test_another_users_file_is_never_replaced(tokens, inventory, tmp_path):
    needs_root()
    theirs = tmp_path / "r.ics"
    theirs.write_text("theirs")
    os.chmod(theirs, 0o666)
    os.chown(theirs, 65534, 65534)
    result = tokens("calendar", "-o", str(theirs))
    assert result.returncode == 2, result
    assert result.stderr == f"Error: cannot write {theirs}: {theirs} belongs to nobody; refusing to replace another user's file\n"
    assert theirs.read_text() == "theirs" and os.stat(theirs).st_uid == 65534


@pytest.mark.parametrize("before, after", [(0o666, 0o644), (0o664, 0o644), (0o640, 0o640), (0o622, 0o600)])
def test_our_existing_file_keeps_its_mode_without_write_bits_for_others(tokens, inventory, tmp_path, before, after):
    feed = tmp_path / "tokens.ics"
    feed.write_text("old")
    os.chmod(feed, before)
    for _ in range(2):  # the second run writes the same bytes: the mode is still fixed
        assert tokens("calendar", "-o", str(feed)).returncode == 0
        assert stat.S_IMODE(feed.stat().st_mode) == after
    assert "BEGIN:VCALENDAR" in feed.read_text()


def test_empty_inventory_is_a_valid_feed(tokens, file_keyring):
    result = tokens("calendar")
    assert result.returncode == 0
    assert parse(result.stdout) == {}


def test_calendar_state_is_private(tokens, inventory, data_dir):
    assert tokens("calendar").returncode == 0
    assert stat.S_IMODE((data_dir / calendar_feed.STATE_FILE).stat().st_mode) == 0o600
    assert CANARY not in (data_dir / calendar_feed.STATE_FILE).read_text()


# -- the scheduled job refreshes the feed ---------------------------------------------


def test_schedule_install_calendar_refreshes_the_feed_with_the_reminder(tokens, inventory, home, crontab, tmp_path):
    feed = tmp_path / "feeds" / "tokens.ics"
    feed.parent.mkdir()
    result = tokens("schedule", "install", "--cron", "--calendar", str(feed))
    assert result.returncode == 0, result
    assert len(parse(feed.read_bytes())) == 3  # written at once: a calendar can subscribe now
    (line,) = crontab.read_text().splitlines()
    assert f"calendar --quiet --output {feed}; " in line and line.index(" calendar ") < line.index(" remind --quiet")

    feed.unlink()
    run = run_cron_command(line, home)  # as cron runs it: sh, a minimal environment
    assert run.returncode == 0 and run.stderr == "", run  # the feed job adds nothing for cron to mail
    assert run.stdout.startswith("Due soon (1):")  # the reminder's own report
    assert len(parse(feed.read_bytes())) == 3

    # A feed that cannot be written is reported, and the reminder still runs.
    feed.unlink()
    feed.parent.rmdir()
    run = run_cron_command(line, home)
    assert run.stderr.startswith("Error: cannot write ") and run.returncode == 0

    assert tokens("schedule", "install", "--systemd", "--calendar", str(tmp_path / "s.ics")).returncode == 0
    service = (units(home) / "tokenward-remind.service").read_text()
    first, second = [line for line in service.splitlines() if line.startswith("ExecStart=")]
    assert first.startswith("ExecStart=-") and first.endswith(f"calendar --quiet --output {tmp_path / 's.ics'}")
    assert " remind" in second and not second.startswith("ExecStart=-")


@pytest.mark.parametrize(
    "args, message",
    [
        (["install", "--cron", "--calendar", "/nonexistent-dir/tokens.ics"], "cannot write /nonexistent-dir/tokens.ics"),
        (["print", "--github-actions", "--calendar", "x.ics"], "--calendar writes a file on this machine"),
    ],
)
def test_schedule_calendar_bad_input_installs_nothing(tokens, file_keyring, home, crontab, args, message):
    result = tokens("schedule", *args)
    assert result.returncode == 2, result
    assert result.stderr.startswith("Error: ") and message in result.stderr and len(result.stderr.splitlines()) == 1
    assert not crontab.exists()
