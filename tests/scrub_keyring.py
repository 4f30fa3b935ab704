"""A test keyring for `tokens import --scrub`: the JSON-file keyring of tests/keyring_backend.py
that, when a value is stored, also appends a line to $TOKENWARD_TEST_EDIT — the user's
editor saving the source file while the import runs. Test-only; chosen explicitly through
PYTHON_KEYRING_BACKEND=tests.scrub_keyring.EditingKeyring."""

from __future__ import annotations

import os

from tests.keyring_backend import FileKeyring


class EditingKeyring(FileKeyring):
    def set_password(self, service, username, password):
        super().set_password(service, username, password)
        path = os.environ.get("TOKENWARD_TEST_EDIT")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write("# added by the user while the import ran\n")


class UndeletableKeyring(FileKeyring):
    """Says nothing when asked to delete, and deletes nothing (as a backend that ignores
    deletions of items it does not own)."""

    def delete_password(self, service, username):
        return None
