"""Rotation beyond "write a new value": where a token is used, whether a new value fits
the old one, `rotate_command`s that mint a value, the copies a leaked value may still
have, the workflows of `tokens rotate` (workflows.py), and rotation by the registry's
own API (api.py, journalled in api_journal.py).

Nothing here prints or returns a value in a message; values are compared by
fingerprint only.
"""

from tokenward.rotation.command import RotateCommandError, run_rotate_command
from tokenward.rotation.fit import Fit, check_new_value, revoke_step, scope_advice, usage_lines
from tokenward.rotation.leaks import Copy, find_copies, pypirc_path, replace_twine_keyring

__all__ = [
    "Copy",
    "Fit",
    "RotateCommandError",
    "check_new_value",
    "find_copies",
    "pypirc_path",
    "replace_twine_keyring",
    "revoke_step",
    "run_rotate_command",
    "scope_advice",
    "usage_lines",
]
