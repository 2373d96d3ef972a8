"""authlib's httpx OAuth clients, imported without its "httpx module is deprecated" warning.

Why: authlib 1.9 prefers the ``httpx2`` package and warns (with an "always" filter it installs itself)
when it falls back to ``httpx``; the fallback works, so the warning is only noise in test output.
"""

from __future__ import annotations

import warnings

import authlib.deprecate  # noqa: F401 - installs authlib's own "always" filter, which we then override

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import OAuth1Client, OAuth2Client

__all__ = ["OAuth1Client", "OAuth2Client"]
