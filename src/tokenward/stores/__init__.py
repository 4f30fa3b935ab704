"""Secret stores behind one small interface (see base.py); SDKs are imported only here."""

from tokenward.stores.base import Store, open_store

__all__ = ["Store", "open_store"]
