"""Salesforce sign-in flows (JWT bearer, client credentials, refresh token) against the
sandbox's /services/oauth2/token: exports keep going across token expiry, the instance URL comes
from the token answer, wrong keys are one line with the fix and exit 6."""

from __future__ import annotations

import json
import ssl
import time

import httpx
import pytest
from vk_backup import FAKE_SECRET, vk

from vaultkeeper import crypto
from vaultkeeper.sandbox import Sandbox
from vaultkeeper.sandbox.sf_oauth import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    USERNAME,
    ConnectedApp,
)

FLOWS = ("jwt", "client_credentials", "refresh_token")
RECORDS = 300


@pytest.fixture(scope="module")
def keys():
    return crypto.generate_rsa_key_pair()


@pytest.fixture(scope="module")
def org(keys):
    # Every issued token dies after 4 API calls: an export needs dozens, so it must sign in
    # again many times, in the middle of paging, for every flow.
    app = ConnectedApp(jwt_public_key=keys[1])
    with Sandbox(records=RECORDS, seed=9, connected_app=app, token_max_requests=4) as sb:
        yield sb


def secret_file(root, name, text):
    folder = root / "secrets"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def sf_config(root, sb, flow, *, private_key=None, client_secret=CLIENT_SECRET,
              refresh_token=REFRESH_TOKEN, backup=False, bulk_threshold=None):
    # The login host is "localhost"; the token answer names 127.0.0.1 as the instance.
    login = sb.url.replace("127.0.0.1", "localhost")
    lines = ['[source]', 'connector = "salesforce"', f'auth = "{flow}"',
             f'login_url = "{login}"', f'ca_file = "{sb.ca_file}"', f'client_id = "{CLIENT_ID}"']
    if flow == "jwt":
        key = secret_file(root, "sf.key", private_key)
        lines += [f'username = "{USERNAME}"', f'private_key = {{ file = "{key}" }}']
    elif flow == "client_credentials":
        lines.append(f'client_secret = {{ file = "{secret_file(root, "cs", client_secret)}" }}')
    else:
        lines.append(f'refresh_token = {{ file = "{secret_file(root, "rt", refresh_token)}" }}')
    if bulk_threshold is not None:
        lines.append(f"bulk_threshold = {bulk_threshold}")
    repo = secret_file(root, "repository.key", FAKE_SECRET)
    lines += ["", "[repository]", f'password = {{ file = "{repo}" }}', ""]
    if backup:
        lines += ["[[locations]]", 'name = "nas"', f'url = "{root / "loc"}"', ""]
    config = root / "vaultkeeper.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    return config


@pytest.mark.parametrize("flow", FLOWS)
def test_export_keeps_working_across_token_expiry(flow, org, keys, tmp_path):
    before = (org.oauth.issued, org.oauth.expired)
    config = sf_config(tmp_path, org, flow, private_key=keys[0].decode(),
                       bulk_threshold=200 if flow == "jwt" else None)
    out = tmp_path / "export"
    result = vk(config, "export", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete", manifest["problems"]
    expected = org.expected()["salesforce"]
    assert {n: o["count"] for n, o in manifest["objects"].items()} == \
        {n: e["total"] for n, e in expected.items()}
    assert manifest["source"]["base_url"] == org.url          # from the token answer
    assert manifest["source"]["sign_in"].startswith(f"OAuth {flow}")
    issued, expired = org.oauth.issued - before[0], org.oauth.expired - before[1]
    assert expired >= 3 and issued >= expired + 1, (issued, expired)
    if flow == "jwt":   # Bulk jobs survive a new session too
        assert "Contact" in manifest["source"]["bulk_api"]
    # No secret lands in the manifest.
    text = (out / "manifest.json").read_text()
    assert CLIENT_SECRET not in text and REFRESH_TOKEN not in text and "PRIVATE KEY" not in text


def test_scheduled_backup_signs_in_with_jwt(org, keys, tmp_path):
    config = sf_config(tmp_path, org, "jwt", private_key=keys[0].decode(), backup=True)
    init = vk(config, "locations", "init")
    assert init.returncode == 0, init.stderr
    before = org.oauth.expired
    first = vk(config, "backup", "--json")
    assert first.returncode == 0, first.stderr
    second = vk(config, "backup", "--json")   # the next night: a fresh sign-in, same org
    assert second.returncode == 0, second.stderr
    assert org.oauth.expired - before >= 6   # both runs outlived many tokens


def _one_line_failure(result, *needles):
    assert result.returncode == 6, (result.returncode, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "Fix:" in lines[0] and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_wrong_keys_fail_in_one_line_with_the_fix(org, tmp_path):
    other_key, _ = crypto.generate_rsa_key_pair()
    cases = {
        "jwt": (dict(private_key=other_key.decode()), ("invalid assertion", "certificate")),
        "client_credentials": (dict(client_secret="not-the-secret"),
                               ("invalid_client", "client_secret")),
        "refresh_token": (dict(refresh_token="5Aep861revoked"),
                          ("expired access/refresh token", "refresh_token")),
    }
    for flow, (kw, needles) in cases.items():
        root = tmp_path / flow
        root.mkdir()
        config = sf_config(root, org, flow, **kw)
        line = _one_line_failure(vk(config, "config", "check", "--online"), *needles)
        assert "not-the-secret" not in line and "revoked" not in line
        export = vk(config, "export", "--out", str(root / "out"))
        _one_line_failure(export, *needles)


def test_online_check_says_who_and_what_can_be_read(org, keys, tmp_path):
    config = sf_config(tmp_path, org, "client_credentials")
    result = vk(config, "config", "check", "--online", "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)["source"]
    assert facts["user"] == USERNAME and facts["sign_in"] == "client_credentials"
    assert facts["instance_url"] == org.url
    assert facts["readable_objects"] == sorted(org.expected()["salesforce"])
    text = vk(config, "config", "check", "--online")
    assert text.returncode == 0, text.stderr
    assert f"signed in as {USERNAME} (client_credentials)" in text.stdout
    assert "can read   4 objects: Account, Contact, Opportunity, Task" in text.stdout


def test_sandbox_token_endpoint_speaks_salesforce(keys):
    """Error bodies and expiry by time, straight over HTTP."""
    app = ConnectedApp(jwt_public_key=keys[1])
    with Sandbox(records=20, seed=1, connected_app=app, token_ttl=0.5) as sb, \
            httpx.Client(base_url=sb.url, trust_env=False,
                         verify=ssl.create_default_context(cafile=str(sb.ca_file))) as http:
        bad = http.post("/services/oauth2/token", data={"grant_type": "password"})
        assert (bad.status_code, bad.json()) == (400, {
            "error": "unsupported_grant_type", "error_description": "grant type not supported"})
        bad = http.post("/services/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": "nope", "client_secret": "x"})
        assert bad.json()["error"] == "invalid_client_id"
        claims = {"iss": CLIENT_ID, "sub": USERNAME, "aud": "https://example.org",
                  "exp": int(time.time()) + 60}
        bad = http.post("/services/oauth2/token", data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": crypto.sign_jwt_rs256(keys[0], claims)})
        assert bad.json() == {"error": "invalid_grant", "error_description": "audience is invalid"}
        claims["aud"] = "https://login.salesforce.com"
        good = http.post("/services/oauth2/token", data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": crypto.sign_jwt_rs256(keys[0], claims)})
        assert good.status_code == 200
        body = good.json()
        assert body["instance_url"] == sb.url and body["token_type"] == "Bearer"
        assert "refresh_token" not in body
        auth = {"Authorization": f"Bearer {body['access_token']}"}
        assert http.get("/services/data/v59.0/limits", headers=auth).status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.6)
            late = http.get("/services/data/v59.0/limits", headers=auth)
            if late.status_code == 401:
                break
        assert late.status_code == 401
        assert late.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_builtin_sandbox_demonstrates_the_flows(tmp_path):
    """connector = "sandbox" with a flow: its connected app trusts the configured client."""
    secret = secret_file(tmp_path, "cs", "my-own-consumer-secret")
    repo = secret_file(tmp_path, "repository.key", FAKE_SECRET)
    config = tmp_path / "vaultkeeper.toml"
    config.write_text("\n".join([
        "[source]", 'connector = "sandbox"', 'flavour = "salesforce"', "records = 60",
        'auth = "client_credentials"', 'client_id = "3MVG9demo"',
        f'client_secret = {{ file = "{secret}" }}', "",
        "[repository]", f'password = {{ file = "{repo}" }}', ""]), encoding="utf-8")
    out = tmp_path / "export"
    result = vk(config, "export", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["source"]["sign_in"].startswith("OAuth client_credentials")
