"""Loaded by third-party clients under test (on their PYTHONPATH): requests to the vendor's
hard-coded hosts (VK_SANDBOX_HOSTS) go to the vaultkeeper sandbox (VK_SANDBOX_URL) instead.
Trusting the sandbox's CA is done with REQUESTS_CA_BUNDLE. The clients' code is not edited."""
import os

_TARGET = os.environ.get("VK_SANDBOX_URL", "").rstrip("/")
_HOSTS = tuple(h for h in os.environ.get("VK_SANDBOX_HOSTS", "").split(",") if h)

if _TARGET and _HOSTS:
    try:
        import requests.sessions as _sessions
    except ImportError:
        _sessions = None
    if _sessions is not None:
        _original = _sessions.Session.request

        def _request(self, method, url, *args, **kwargs):
            text = str(url)
            for host in _HOSTS:
                for scheme in ("https://", "http://"):
                    if text.startswith(scheme + host):
                        text = _TARGET + text[len(scheme + host):]
            return _original(self, method, text, *args, **kwargs)

        _sessions.Session.request = _request
