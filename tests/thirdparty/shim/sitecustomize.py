"""Loaded by third-party clients under test (on their PYTHONPATH): requests to the vendor's
hard-coded hosts (VK_SANDBOX_HOSTS) go to the vaultkeeper sandbox (VK_SANDBOX_URL), trusting the
sandbox's CA (REQUESTS_CA_BUNDLE). The clients' own code is not edited."""

import os

_TARGET = os.environ.get("VK_SANDBOX_URL", "").rstrip("/")
_HOSTS = tuple(h for h in os.environ.get("VK_SANDBOX_HOSTS", "").split(",") if h)
_CA = os.environ.get("REQUESTS_CA_BUNDLE")


def _rewrite(url):
    text = str(url)
    for host in _HOSTS:
        for scheme in ("https://", "http://"):
            prefix = scheme + host
            if text.startswith(prefix) and text[len(prefix):len(prefix) + 1] in ("", "/", "?",
                                                                                    ":"):
                return _TARGET + text[len(prefix):], True
    return text, False


if _TARGET and _HOSTS:
    try:
        import requests.sessions as _sessions
    except ImportError:
        _sessions = None
    if _sessions is not None:
        _send = _sessions.Session.send

        def _patched_send(self, request, **kwargs):
            # Session.send is what every path ends in (requests.get, Session.request, and
            # clients that send prepared requests themselves).
            request.url, moved = _rewrite(request.url)
            if moved and _CA and kwargs.get("verify") in (None, True):
                kwargs["verify"] = _CA
            return _send(self, request, **kwargs)

        _sessions.Session.send = _patched_send
