"""Registries that issue tokens, behind one small interface (see base.py); they are
imported only by the commands that talk to a registry (verify, revoke)."""

from tokenward.registries.base import RESULTS, Registry, Verdict, open_registry

__all__ = ["RESULTS", "Registry", "Verdict", "open_registry"]
