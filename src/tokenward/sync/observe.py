"""Observe: what each store holds for each token, reading as little as it can.

Metadata stores (Vault, AWS) list every secret with its metadata in a few requests;
the metadata carries the value's fingerprint and rotated_at, and `version`: the store
version it describes. When that is the store's current version the metadata vouches
for the value and nothing is read; when it is not, someone changed the value outside
tokenward and only that value is read (its age is unknown). Stores without metadata
(the keyring) are taken to hold what the inventory says tokenward wrote there, unless
a rotation of the token is pending in the journal, the token is new to this machine,
or `--verify` asks for every value to be read. Something that is not a `Store` (it
cannot be read back) is not observed at all.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Iterable

from tokenward.app import App
from tokenward.errors import SecretNotFound, StoreError, TokenNotFound, TokenwardError
from tokenward.inventory import NAME_RE, JournalEntry, TokenRecord
from tokenward.stores.base import BulkReader, MetadataStore, PresenceCheck, RemoteEntry, Store, VersionedStore
from tokenward.sync.entries import record_from_metadata, remote_seen, vouches
from tokenward.sync.plan import Seen, TokenState
from tokenward.sync.report import Report
from tokenward.tokens import fingerprint


class ValueCache:
    """Values read during one run, by (token, store): in memory only, shared with apply."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def get(self, token: str, store: str) -> str | None:
        return self._values.get((token, store))

    def put(self, token: str, store: str, value: str) -> None:
        with self._lock:
            self._values[(token, store)] = value

    def drop(self, tokens: set[str]) -> None:
        with self._lock:
            self._values = {k: v for k, v in self._values.items() if k[0] not in tokens}

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


@dataclass
class Observed:
    states: list[TokenState]
    report: Report
    rank: dict[str, int]  # store -> cost of reading a value there (source_rank)
    # What apply checks before writing: a rotation that ran since wins.
    snapshots: dict[str, tuple] = field(default_factory=dict)  # name -> (fingerprint, rotated_at)
    journal_seen: dict[str, set[int]] = field(default_factory=dict)  # name -> pending journal entry ids


def source_rank(stores: dict[str, object]) -> dict[str, int]:
    """Cheapest stores to read a value from first: many values per request, then
    concurrent reads, then the rest."""
    rank = {}
    for name, store in stores.items():
        if isinstance(store, BulkReader):
            rank[name] = 0 if store.values_per_request > 1 else 1
        else:
            rank[name] = 2
    return rank


def read_many(store: Store, tokens: list[str]) -> dict[str, str | StoreError]:
    if not tokens:
        return {}
    if isinstance(store, BulkReader):
        return store.get_many(tokens)
    found: dict[str, str | StoreError] = {}
    for token in tokens:
        try:
            found[token] = store.get(token)
        except StoreError as exc:
            found[token] = exc
    return found


def read_values(
    stores: dict[str, Store], to_read: dict[str, list[str]], report: Report, values: ValueCache
) -> dict[tuple[str, str], str | StoreError]:
    """Fingerprints (or errors) of the values that must be read, by (token, store); the
    values stay in `values` for apply. The stores are read in parallel."""
    results: dict[tuple[str, str], str | StoreError] = {}

    def read_store(store: str) -> None:
        for token, outcome in read_many(stores[store], to_read[store]).items():
            if isinstance(outcome, StoreError):
                results[(token, store)] = outcome
                if not isinstance(outcome, SecretNotFound):
                    report.note_error(outcome)
            else:
                values.put(token, store, outcome)
                results[(token, store)] = fingerprint(outcome)

    with ThreadPoolExecutor(max_workers=max(1, len(to_read))) as pool:
        list(pool.map(read_store, list(to_read)))
    return results


class Observer:
    """One run's observation of the inventory's tokens (or `names`) in their stores."""

    def __init__(self, app: App, names: list[str], *, discover: bool, verify: bool, values: ValueCache) -> None:
        self.app = app
        self.names = names
        self.discover = discover
        self.verify = verify
        self.values = values

    def observe(self) -> Observed:
        app = self.app
        records = self._records()
        observed = Observed([], Report([]), {})
        report = observed.report
        for record in records.values():
            observed.snapshots[record.name] = (record.fingerprint, record.rotated_at)
        pending: dict[str, list[JournalEntry]] = {}
        for entry in app.inventory.journal_pending():
            if entry.name in records:
                pending.setdefault(entry.name, []).append(entry)
                observed.journal_seen.setdefault(entry.name, set()).add(entry.id)

        involved = {s for r in records.values() for s in r.stores}
        if self.discover or (not records and not self.names):
            # An empty inventory still looks, to say what `--discover` would bring in.
            involved |= {s for s in app.config.stores if isinstance(app.store(s), MetadataStore)}
        unknown_stores = {s for s in involved if s not in app.config.stores}
        involved -= unknown_stores
        stores = {s: app.store(s) for s in involved | set(app.config.default_stores if self.discover else ())}
        # What each store can do decides how it is observed; something that cannot be
        # read back (not a Store: a CI secret) is neither read nor written by sync.
        readable: dict[str, Store] = {s: store for s, store in stores.items() if isinstance(store, Store)}
        remote: dict[str, MetadataStore] = {
            s: store for s, store in sorted(readable.items()) if s in involved and isinstance(store, MetadataStore)
        }
        observed.rank = rank = source_rank(stores)
        listings = self._list(remote, report)
        discovered = self._discovered(records, remote, listings, report)

        # What each store holds, reading values only where metadata cannot tell.
        to_read: dict[str, list[str]] = {}
        assumed: dict[str, list[str]] = {}
        unknown: dict[str, list[str]] = {}  # token -> remote stores whose keyed fingerprint needs the value
        for name in sorted({*records, *discovered}):
            record = records.get(name) or discovered[name]
            is_new = name in discovered
            journal = tuple(pending.get(name, ()))
            seen: dict[str, Seen] = {}
            for store in record.stores:
                if store in unknown_stores:
                    seen[store] = Seen("failed", error=f"store {store!r} is not in the config ({app.config.where})")
                elif store in report.store_errors:
                    seen[store] = Seen("failed", error=report.store_errors[store])
                elif store not in readable:
                    continue
                elif store in remote:
                    entry = listings.get(store, {}).get(name)
                    now = seen[store] = remote_seen(entry, None if is_new else record, store)
                    if now.state == "present" and not now.vouched and now.changed_at is None:
                        now = seen[store] = replace(now, changed_at=_version_time(remote[store], name, now.version))
                    if now.state == "present" and (not now.vouched or self.verify):
                        to_read.setdefault(store, []).append(name)
                    elif now.state == "present" and now.fingerprint is None:
                        unknown.setdefault(name, []).append(store)
                elif is_new or journal or self.verify:
                    seen[store] = Seen("present")  # placeholder: read below
                    to_read.setdefault(store, []).append(name)
                else:
                    seen[store] = Seen("present", fingerprint=record.fingerprint, rotated_at=record.rotated_at, assumed=True)
                    assumed.setdefault(store, []).append(name)
            observed.states.append(TokenState(name, record, seen, journal, discovered=is_new))
        _confirm_local(readable, observed.states, assumed)
        reads = self._read(readable, remote, observed.states, to_read, unknown, rank, report)
        observed.states = [_with_reads(state, reads, remote, self.values) for state in observed.states]
        return observed

    def _records(self) -> dict[str, TokenRecord]:
        inventory = self.app.inventory
        if not self.names:
            return {r.name: r for r in inventory.all()}
        records = {}
        for name in self.names:
            record = inventory.find(name)
            if record is None and not self.discover:
                raise TokenNotFound(name)
            if record is not None:
                records[name] = record
        return records

    def _list(self, remote: dict[str, MetadataStore], report: Report) -> dict[str, dict[str, RemoteEntry]]:
        """Every metadata store's entries, all stores at once."""
        listings: dict[str, dict[str, RemoteEntry]] = {}
        names = self.names if self.names else None
        with ThreadPoolExecutor(max_workers=max(1, len(remote))) as pool:
            futures = {s: pool.submit(store.list_entries, names) for s, store in remote.items()}
            for store, future in futures.items():
                try:
                    listings[store] = future.result()
                except TokenwardError as exc:
                    report.store_errors[store] = str(exc)
                    report.note_error(exc)
        return listings

    def _discovered(
        self, records: dict[str, TokenRecord], remote: dict, listings: dict[str, dict[str, RemoteEntry]], report: Report
    ) -> dict[str, TokenRecord]:
        """Tokens the metadata stores hold that the inventory does not know: with
        --discover, their records (from the metadata); else only how many there are."""
        found: dict[str, list[str]] = {}
        for store in remote:
            for token in listings.get(store, {}):
                if token not in records:
                    found.setdefault(token, []).append(store)
        if not self.discover:
            report.undiscovered = len(found)
            return {}
        discovered: dict[str, TokenRecord] = {}
        for token, where in sorted(found.items()):
            entries = [listings[s][token] for s in where]
            if not NAME_RE.fullmatch(token) or not any(e.metadata.get("tokenward") == "1" for e in entries):
                report.skipped_remote.append(f"{where[0]}:{token}")
                continue
            candidates = [(s, e.metadata, vouches(e.metadata, e.version)) for s, e in zip(where, entries)]
            order = tuple(dict.fromkeys([*self.app.config.default_stores, *where]))
            discovered[token] = record_from_metadata(token, candidates, order, self.app, report.warnings.append)
        return discovered

    def _read(
        self,
        stores: dict[str, Store],
        remote: dict[str, MetadataStore],
        states: list[TokenState],
        to_read: dict[str, list[str]],
        unknown: dict[str, list[str]],
        rank: dict[str, int],
        report: Report,
    ) -> dict[tuple[str, str], str | StoreError]:
        """Read what must be read. Keyed fingerprints of unknown values: read one store's
        value (the cheapest), and compare the others' keyed fingerprints with it under
        their own keys."""
        deferred: dict[tuple[str, str], str] = {}  # (token, store) -> store read for it
        for name, where in unknown.items():
            where = sorted(where, key=lambda s: rank.get(s, 50))
            if not any(name in to_read.get(s, ()) for s in where):
                to_read.setdefault(where[0], []).append(name)
            first = next(s for s in where if name in to_read.get(s, ()))
            for other in where:
                if other != first and name not in to_read.get(other, ()):
                    deferred[(name, other)] = first
        reads = read_values(stores, to_read, report, self.values)
        again: dict[str, list[str]] = {}
        by_name = {state.name: state for state in states}
        for (name, other), first in deferred.items():
            value = self.values.get(name, first)
            if value is not None and remote[other].keyed(value) == by_name[name].seen[other].keyed:
                reads[(name, other)] = fingerprint(value)
                self.values.put(name, other, value)
            else:
                again.setdefault(other, []).append(name)
        reads.update(read_values(stores, again, report, self.values))
        return reads


def _with_reads(
    state: TokenState, reads: dict[tuple[str, str], str | StoreError], remote: dict[str, MetadataStore], values: ValueCache
) -> TokenState:
    """The state once the values read are known: fingerprints filled in, metadata
    that lies about its value (found by --verify) no longer vouching."""
    changed = dict(state.seen)
    for store, seen in state.seen.items():
        outcome = reads.get((state.name, store))
        if outcome is None:
            continue
        if isinstance(outcome, SecretNotFound):
            changed[store] = Seen("missing")
        elif isinstance(outcome, StoreError):
            changed[store] = Seen("failed", error=str(outcome))
        else:
            if seen.vouched and seen.keyed and seen.fingerprint is None:
                value = values.get(state.name, store)
                lies = value is None or remote[store].keyed(value) != seen.keyed
            else:
                lies = seen.vouched and outcome != seen.fingerprint
            if lies:
                changed[store] = replace(seen, fingerprint=outcome, vouched=False, outside=True, rotated_at=None)
            else:
                changed[store] = replace(seen, fingerprint=outcome)
    return replace(state, seen=changed)


def _version_time(store: object, name: str, version: str | None) -> datetime | None:
    """When the store made the value someone changed outside tokenward (AWS asks)."""
    if version is None or not isinstance(store, VersionedStore):
        return None
    try:
        return store.version_created(name, version)
    except StoreError:
        return None  # unknown: the value is dated "now", as before


def _confirm_local(stores: dict[str, Store], states: Iterable[TokenState], names: dict[str, list[str]]) -> None:
    """A store without metadata (the keyring) is taken to hold what the inventory
    says; but an entry deleted by hand must not pass for "in sync". One cheap
    presence check per store (no value read on the Secret Service)."""
    for store, wanted in names.items():
        checker = stores[store]
        if not isinstance(checker, PresenceCheck):
            continue
        try:
            held = checker.present(wanted)
            error = None
        except StoreError as exc:
            held, error = set(), str(exc)
        for state in states:
            seen = state.seen.get(store)
            if seen is None or not seen.assumed or state.name not in wanted:
                continue
            if error is not None:
                state.seen[store] = Seen("failed", error=error)
            elif state.name not in held:
                state.seen[store] = Seen("missing")
