"""The dashboard's and the browser client's built files (``static/``, built from ``frontend/``).

Committed to the repository and shipped in the package, so ``pip install`` and
``minibase serve`` need no Node.js. ``scripts/build-frontend`` rebuilds them.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
