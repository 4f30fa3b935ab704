"""Rotation beyond "write a new value": where a token is used, whether a new value fits
the old one, `rotate_command`s that mint a value, the copies a leaked value may still
have, the workflows of `tokens rotate` (workflows.py), and rotation by the registry's
own API (api.py, journalled in api_journal.py).

Nothing here prints or returns a value in a message; values are compared by
fingerprint only.
"""

# Imported on first use (`tokens sync` reads only the journal; `rotate` needs the rest).
_WHERE = {
    "RotateCommandError": "command",
    "run_rotate_command": "command",
    "Fit": "fit",
    "check_new_value": "fit",
    "revoke_step": "fit",
    "scope_advice": "fit",
    "usage_lines": "fit",
    "Copy": "leaks",
    "find_copies": "leaks",
    "pypirc_path": "leaks",
    "replace_twine_keyring": "leaks",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tokenward.rotation' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"tokenward.rotation.{module}"), name)
