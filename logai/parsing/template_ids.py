"""Stable template ids: a hash of the source and the canonical template text.

Drain numbers clusters in arrival order, so its ids differ between runs and workers. Hashing the text
gives the same id to the same template in any process, after any restart, on any worker.
"""

from __future__ import annotations

from hashlib import blake2b


def template_id(source: str, template: str) -> str:
    digest = blake2b(f"{source}\x1f{template}".encode(), digest_size=8).hexdigest()
    return f"T{digest}"
