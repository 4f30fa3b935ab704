"""Registries that issue tokens, behind one small interface (see base.py); they are
imported only by the commands that talk to a registry (verify, revoke). The kind facts
table (kinds.py, facts.py) is read without importing base.py: `get` and `exec` read it."""

__all__ = ["RESULTS", "Registry", "Verdict", "open_registry"]


def __getattr__(name: str):
    if name in __all__:
        from tokenward.registries import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
