"""The change feeds against the sandbox over HTTP: HubSpot search past its 10,000-result
window, Salesforce deletions (SystemModstamp, the deleted-record log, cleared lookups)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from vk_testing import hubspot, salesforce

from vaultkeeper.connectors.changes import Previous
from vaultkeeper.connectors.hs_changes import HubSpotChanges
from vaultkeeper.connectors.sf_changes import SalesforceChanges
from vaultkeeper.sandbox import FaultConfig, Sandbox


def test_hubspot_feed_pages_past_the_search_window():
    with Sandbox(records=10_600, seed=21, faults=FaultConfig.parse("none")) as sb:
        ids = sb.live_ids("contacts", 10_300)
        since = datetime.now(UTC) - timedelta(seconds=1)
        for start in range(0, len(ids), 700):   # distinct stamps, as real edits have
            sb.overwrite("contacts", {i: {"jobtitle": "Windowed"}
                                      for i in ids[start:start + 700]})
            time.sleep(0.01)
        connector = hubspot(sb)
        try:
            spec = next(s for s in connector.discover() if s.name == "contacts")
            feed = HubSpotChanges(connector)
            before = connector.http.stats.requests
            changes = feed.changes(spec, since, Previous(live=set(ids)))
            sent = connector.http.stats.requests - before
        finally:
            connector.close()
    assert set(changes.records) == set(ids)   # every one, once, across two windows
    assert all(r["properties"]["jobtitle"] == "Windowed" for r in changes.records.values())
    assert changes.count is not None and changes.count.live == 10_600 - sb.dataset.stores[
        "contacts"].archived_count
    # 200 a page (one more at the window's seam), associations to companies and products in
    # batches of 1,000 plus their type names, and the live count
    assert sent <= (10_300 // 200 + 2) + 2 * (10_300 // 1000 + 2) + 1


def test_salesforce_feed_sees_deletions_and_cleared_lookups():
    with Sandbox(records=800, seed=22, faults=FaultConfig.parse("none")) as sb:
        account = sb.live_ids("Account", 1, with_relations=True, start=3)[0]
        contact = sb.live_ids("Contact", 1, start=50)[0]
        time.sleep(1.1)   # SOQL datetimes have whole seconds
        since = datetime.now(UTC)
        time.sleep(1.1)
        sb.archive("Account", [account])
        sb.archive("Contact", [contact])
        connector = salesforce(sb)
        try:
            specs = {s.name: s for s in connector.discover()}
            feed = SalesforceChanges(connector)
            accounts = feed.changes(specs["Account"], since, Previous())
            contacts = feed.changes(specs["Contact"], since, Previous())
        finally:
            connector.close()
    assert accounts.records[account]["IsDeleted"] is True and account in accounts.gone
    assert contacts.records[contact]["IsDeleted"] is True and contact in contacts.gone
    # contacts of the deleted account lost their AccountId: their SystemModstamp moved
    cleared = [r for k, r in contacts.records.items() if k != contact]
    assert cleared and all(r["AccountId"] is None and not r["IsDeleted"] for r in cleared)
    assert not accounts.removed and not contacts.removed   # still in the recycle bin
    assert contacts.count is not None and contacts.count.total == 800
