"""Encryption at rest switched off: the baseline server of ``flow_http.py --encryption``.

Python imports ``sitecustomize`` at start-up from the first directory of ``sys.path`` that
holds one, so a server started with this directory first in ``PYTHONPATH`` builds every
``KeyRing`` with ``enabled=False`` (values written in plaintext, the same build
otherwise). No deployment can do this: there is no setting for it.
"""

from __future__ import annotations

from typing import Any

from minibase.store import data_keys

_init = data_keys.KeyRing.__init__


def _plaintext_init(self: data_keys.KeyRing, settings: Any, *, enabled: bool = True) -> None:
    _init(self, settings, enabled=False)


data_keys.KeyRing.__init__ = _plaintext_init  # type: ignore[method-assign]
