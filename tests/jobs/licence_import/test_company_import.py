"""import-company's read, transform and write against a real PostgreSQL.

Hand-made NALD rows show which rows are read and what lands in crm_v2; a
generated extract imported twice shows the writes are idempotent.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import create_engine, insert, text

from tests.jobs.conftest import snapshot
from tests.support import services as svc
from wrls_actors.jobs.licence_import.company_rows import PARTY_INDEXES, ensure_indexes, read_companies, read_company
from wrls_actors.jobs.licence_import.company_transforms import ROLES
from wrls_actors.jobs.licence_import.import_company import import_party, read_party
from wrls_actors.jobs.licence_import.queue_companies import party_items
from wrls_actors.jobs.licence_import.write_company import ensure_roles, replan_due, write_companies
from wrls_actors.model import create_missing
from wrls_actors.model.nald import BY_NAME, NULL, TABLES
from wrls_actors.runtime import PermanentError
from wrls_actors.runtime.database import sqlalchemy_url


@pytest.fixture
def engine(database):
    engine = create_engine(sqlalchemy_url(svc.database_url(database)))
    with engine.begin() as connection:
        create_missing(connection)
    yield engine
    engine.dispose()


def add(connection, table: str, *rows: dict) -> None:
    """Rows as the loader writes them: every column a string, 'null' where unset."""
    columns = BY_NAME[table].columns
    connection.execute(insert(TABLES[table]), [{c: r.get(c, NULL) for c in columns} for r in rows])


def holder_with_agent(connection, region: str, tag: str) -> None:
    """Party 7 of ``region``: a person holding licence 1, billed through agent party 9 from 2016.

    The same ids in every region; ``tag`` marks the region's text.
    """
    r = {"FGAC_REGION_CODE": region}
    add(
        connection,
        "NALD_PARTIES",
        {
            **r,
            "ID": "7",
            "APAR_TYPE": "PER",
            "NAME": f"Doe {tag}",
            "SALUTATION": "Mrs",
            "INITIALS": "J",
            "FORENAME": "Jane",
        },
        {**r, "ID": "9", "APAR_TYPE": "ORG", "NAME": f"Agents {tag} Ltd"},
        {**r, "ID": "11", "APAR_TYPE": "ORG", "NAME": f"Other holder {tag}"},
    )
    add(
        connection,
        "NALD_ADDRESSES",
        *(
            {**r, "ID": a, "ADDR_LINE1": f"{a} Street {tag}", "TOWN": "Town", "POSTCODE": "AB1 2CD"}
            for a in ("8", "10", "12", "14")
        ),
    )
    add(
        connection,
        "NALD_ABS_LICENCES",
        {**r, "ID": "1", "LIC_NO": f"{tag}/1", "EXPIRY_DATE": "31/03/2030"},
        {**r, "ID": "2", "LIC_NO": f"{tag}/2"},
    )
    add(
        connection,
        "NALD_ABS_LIC_VERSIONS",
        {
            **r,
            "AABL_ID": "1",
            "ISSUE_NO": "1",
            "INCR_NO": "0",
            "STATUS": "SUPER",
            "EFF_ST_DATE": "01/04/2000",
            "EFF_END_DATE": "31/03/2010",
            "ACON_APAR_ID": "7",
            "ACON_AADD_ID": "8",
        },
        {
            **r,
            "AABL_ID": "1",
            "ISSUE_NO": "2",
            "INCR_NO": "0",
            "STATUS": "CURR",
            "EFF_ST_DATE": "01/04/2010",
            "ACON_APAR_ID": "7",
            "ACON_AADD_ID": "8",
        },
        {
            **r,
            "AABL_ID": "1",
            "ISSUE_NO": "3",
            "INCR_NO": "0",
            "STATUS": "DRAFT",
            "EFF_ST_DATE": "01/04/2026",
            "ACON_APAR_ID": "7",
            "ACON_AADD_ID": "14",
        },
        {
            **r,
            "AABL_ID": "2",
            "ISSUE_NO": "1",
            "INCR_NO": "0",
            "STATUS": "CURR",
            "EFF_ST_DATE": "01/04/2001",
            "ACON_APAR_ID": "11",
            "ACON_AADD_ID": "12",
        },
    )
    add(
        connection,
        "NALD_LH_ACCS",
        {**r, "ACC_NO": "20001", "ACON_APAR_ID": "7"},
        {**r, "ACC_NO": "20002", "ACON_APAR_ID": "11"},
    )
    add(
        connection,
        "NALD_IAS_INVOICE_ACCS",
        # Billed to the holder, then to the agent at its own address.
        {
            **r,
            "IAS_CUST_REF": f"A{tag}1",
            "ALHA_ACC_NO": "20001",
            "IAS_XFER_DATE": "01/04/2010 09:30:00",
            "ACON_APAR_ID": "7",
            "ACON_AADD_ID": "8",
        },
        {
            **r,
            "IAS_CUST_REF": f"A{tag}1",
            "ALHA_ACC_NO": "20001",
            "IAS_XFER_DATE": "06/04/2016 10:00:00",
            "ACON_APAR_ID": "9",
            "ACON_AADD_ID": "10",
        },
        # Never transferred to the billing system, and not charged: both left out.
        {
            **r,
            "IAS_CUST_REF": f"A{tag}2",
            "ALHA_ACC_NO": "20001",
            "IAS_XFER_DATE": "null",
            "ACON_APAR_ID": "7",
            "ACON_AADD_ID": "8",
        },
        {
            **r,
            "IAS_CUST_REF": f"A{tag}3",
            "ALHA_ACC_NO": "20001",
            "IAS_XFER_DATE": "01/01/2012",
            "ACON_APAR_ID": "7",
            "ACON_AADD_ID": "8",
        },
        # Another holder's account.
        {
            **r,
            "IAS_CUST_REF": f"A{tag}4",
            "ALHA_ACC_NO": "20002",
            "IAS_XFER_DATE": "01/01/2012",
            "ACON_APAR_ID": "11",
            "ACON_AADD_ID": "12",
        },
    )
    add(
        connection,
        "NALD_CHG_VERSIONS",
        {
            **r,
            "AABL_ID": "1",
            "VERS_NO": "1",
            "STATUS": "CURR",
            "EFF_ST_DATE": "01/04/2010",
            "AIIA_IAS_CUST_REF": f"A{tag}1",
            "AIIA_ALHA_ACC_NO": "20001",
        },
        {
            **r,
            "AABL_ID": "1",
            "VERS_NO": "2",
            "STATUS": "CURR",
            "EFF_ST_DATE": "01/04/2011",
            "AIIA_IAS_CUST_REF": f"A{tag}2",
            "AIIA_ALHA_ACC_NO": "20001",
        },
        {
            **r,
            "AABL_ID": "1",
            "VERS_NO": "3",
            "STATUS": "DRAFT",
            "EFF_ST_DATE": "01/04/2026",
            "AIIA_IAS_CUST_REF": f"A{tag}3",
            "AIIA_ALHA_ACC_NO": "20001",
        },
        {
            **r,
            "AABL_ID": "2",
            "VERS_NO": "1",
            "STATUS": "CURR",
            "EFF_ST_DATE": "01/04/2012",
            "AIIA_IAS_CUST_REF": f"A{tag}4",
            "AIIA_ALHA_ACC_NO": "20002",
        },
    )
    add(
        connection,
        "NALD_LIC_ROLES",
        {
            **r,
            "AABL_ID": "1",
            "ALRT_CODE": "RT",
            "ACON_APAR_ID": "7",
            "ACON_AADD_ID": "14",
            "EFF_ST_DATE": "01/01/2015",
            "EFF_END_DATE": "31/12/2018",
        },
        {
            **r,
            "AABL_ID": "2",
            "ALRT_CODE": "RT",
            "ACON_APAR_ID": "7",
            "ACON_AADD_ID": "14",
            "EFF_ST_DATE": "01/01/2017",
        },
        {**r, "AABL_ID": "1", "ALRT_CODE": "LC", "ACON_APAR_ID": "7", "ACON_AADD_ID": "8", "EFF_ST_DATE": "01/01/2015"},
    )


@pytest.fixture
def nald(engine):
    with engine.begin() as connection:
        holder_with_agent(connection, "1", "one")
        holder_with_agent(connection, "2", "two")
        ensure_roles(connection)
    return engine


def test_read_company_reads_only_the_partys_rows_in_its_region(nald):
    with nald.connect() as connection:
        rows = read_company(connection, "2", "7")
        assert read_company(connection, "3", "7") is None

    assert rows.party["NAME"] == "Doe two"
    assert [(v["AABL_ID"], v["STATUS"], v["EXPIRY_DATE"]) for v in rows.licence_versions] == [
        ("1", "SUPER", "31/03/2030"),
        ("1", "CURR", "31/03/2030"),
    ]
    # Transferred and charged by a version that is not a draft: A…1 only.
    assert [(i["IAS_CUST_REF"], i["IAS_XFER_DATE"]) for i in rows.invoice_accounts] == [
        ("Atwo1", "01/04/2010 09:30:00"),
        ("Atwo1", "06/04/2016 10:00:00"),
    ]
    assert [p["ID"] for p in rows.invoice_parties] == ["7", "9"]
    assert [(r["AABL_ID"], r["ALRT_CODE"]) for r in rows.licence_roles] == [("1", "LC"), ("1", "RT"), ("2", "RT")]
    assert [(a["ID"], a["ADDR_LINE1"]) for a in rows.addresses] == [
        ("8", "8 Street two"),
        ("10", "10 Street two"),
        ("14", "14 Street two"),
    ]


def test_parties_read_together_get_the_rows_each_gets_alone(nald):
    # Regions 1 and 2 hold parties with the same ids: one statement must keep each party's rows its own.
    parties = [("1", "7"), ("1", "9"), ("2", "7"), ("2", "9"), ("3", "7")]
    with nald.connect() as connection:
        together = read_companies(connection, parties)
        alone = {p: read_company(connection, *p) for p in parties}
    assert ("3", "7") not in together and alone.pop(("3", "7")) is None
    assert together == alone
    assert together[("2", "7")].party["NAME"] == "Doe two"
    # A licence version keeps the table's columns and gains its licence's end dates.
    version = together[("2", "7")].licence_versions[0]
    assert list(version)[: len(BY_NAME["NALD_ABS_LIC_VERSIONS"].columns)] == list(
        BY_NAME["NALD_ABS_LIC_VERSIONS"].columns
    )
    assert list(version)[-3:] == ["EXPIRY_DATE", "REV_DATE", "LAPSED_DATE"]


def rows_of(engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql), params)]


def test_a_holder_billed_through_an_agent_becomes_a_company_with_its_contact_addresses_and_account(nald):
    with nald.begin() as connection:
        import_party(connection, "1", "7")

    assert rows_of(nald, "SELECT external_id, name, type FROM crm_v2.companies ORDER BY external_id") == [
        ("1:7", "Mrs Jane Doe one", "person"),
        ("1:9", "Agents one Ltd", "organisation"),  # the agent, written with the account it bills
    ]
    assert rows_of(
        nald, "SELECT external_id, salutation, initials, first_name, last_name, data_source FROM crm_v2.contacts"
    ) == [("1:7", "Mrs", "J", "Jane", "Doe one", "nald")]
    assert rows_of(
        nald, "SELECT external_id, address_1, town, postcode, data_source FROM crm_v2.addresses ORDER BY external_id"
    ) == [
        ("1:10", "10 Street one", "Town", "AB1 2CD", "nald"),
        ("1:14", "14 Street one", "Town", "AB1 2CD", "nald"),
        ("1:8", "8 Street one", "Town", "AB1 2CD", "nald"),
    ]
    assert rows_of(
        nald,
        "SELECT c.external_id, ia.invoice_account_number, ia.start_date, ia.end_date "
        "FROM crm_v2.invoice_accounts ia JOIN crm_v2.companies c USING (company_id)",
    ) == [("1:7", "Aone1", date(2010, 4, 1), None)]
    assert rows_of(
        nald,
        """
        SELECT ia.invoice_account_number, a.external_id, iaa.start_date, iaa.end_date, agent.external_id
        FROM crm_v2.invoice_account_addresses iaa
        JOIN crm_v2.invoice_accounts ia USING (invoice_account_id)
        JOIN crm_v2.addresses a USING (address_id)
        LEFT JOIN crm_v2.companies agent ON agent.company_id = iaa.agent_company_id
        ORDER BY iaa.start_date""",
    ) == [
        ("Aone1", "1:8", date(2010, 4, 1), date(2016, 4, 5), None),
        ("Aone1", "1:10", date(2016, 4, 6), None, "1:9"),
    ]
    assert rows_of(
        nald,
        """
        SELECT c.external_id, o.external_id, r.name, cc.start_date, cc.end_date, cc.is_default
        FROM crm_v2.company_contacts cc JOIN crm_v2.companies c USING (company_id)
        JOIN crm_v2.contacts o USING (contact_id) JOIN crm_v2.roles r USING (role_id)
        ORDER BY r.name""",
    ) == [
        ("1:7", "1:7", "billing", date(2010, 4, 1), None, True),
        ("1:7", "1:7", "licenceHolder", date(2000, 4, 1), None, True),
    ]
    assert rows_of(
        nald,
        """
        SELECT r.name, a.external_id, ca.start_date, ca.end_date, ca.is_default
        FROM crm_v2.company_addresses ca JOIN crm_v2.companies c USING (company_id)
        JOIN crm_v2.addresses a USING (address_id) JOIN crm_v2.roles r USING (role_id)
        WHERE c.external_id = '1:7' ORDER BY r.name, ca.start_date""",
    ) == [
        ("billing", "1:8", date(2010, 4, 1), None, True),
        ("billing", "1:10", date(2016, 4, 6), None, True),
        # Its versions' widest range, ended by the licence's expiry.
        ("licenceHolder", "1:8", date(2000, 4, 1), date(2030, 3, 31), True),
        # Roles RT of two licences at one address: open while one is.
        ("returnsTo", "1:14", date(2015, 1, 1), None, True),
    ]
    # Region 2's party 7 is another company.
    assert rows_of(nald, "SELECT count(*) FROM crm_v2.companies WHERE external_id LIKE '2:%'") == [(0,)]


def test_the_agents_own_import_leaves_the_agent_link_as_it_was(nald):
    with nald.begin() as connection:
        import_party(connection, "1", "7")
    before = rows_of(
        nald, "SELECT agent_company_id FROM crm_v2.invoice_account_addresses WHERE agent_company_id IS NOT NULL"
    )
    with nald.begin() as connection:
        agent = import_party(connection, "1", "9")

    assert agent.invoice_accounts == () and agent.contact is None
    assert (
        rows_of(
            nald, "SELECT agent_company_id FROM crm_v2.invoice_account_addresses WHERE agent_company_id IS NOT NULL"
        )
        == before
    )
    assert rows_of(nald, "SELECT count(*) FROM crm_v2.companies WHERE external_id = '1:9'") == [(1,)]


def test_a_change_in_nald_updates_the_company_and_its_address_and_nothing_else(nald):
    with nald.begin() as connection:
        import_party(connection, "1", "7")
    stamps = dict(rows_of(nald, "SELECT external_id, date_updated FROM crm_v2.addresses"))
    with nald.begin() as connection:
        connection.execute(
            text("""UPDATE import."NALD_PARTIES" SET "NAME" = 'Smith' WHERE "FGAC_REGION_CODE" = '1'
                                   AND "ID" = '7'""")
        )
        connection.execute(
            text("""UPDATE import."NALD_ADDRESSES" SET "TOWN" = 'Elsewhere'
                                   WHERE "FGAC_REGION_CODE" = '1' AND "ID" = '10'""")
        )
        import_party(connection, "1", "7")

    assert rows_of(nald, "SELECT name FROM crm_v2.companies WHERE external_id = '1:7'") == [("Mrs Jane Smith",)]
    assert rows_of(nald, "SELECT last_name FROM crm_v2.contacts WHERE external_id = '1:7'") == [("Smith",)]
    after = dict(rows_of(nald, "SELECT external_id, date_updated FROM crm_v2.addresses"))
    assert [a for a in after if after[a] != stamps[a]] == ["1:10"]
    assert rows_of(nald, "SELECT town FROM crm_v2.addresses WHERE external_id = '1:10'") == [("Elsewhere",)]


def test_an_unknown_party_or_an_unreadable_date_fails_the_party_alone(nald):
    with nald.begin() as connection:
        connection.execute(
            text("""UPDATE import."NALD_ABS_LIC_VERSIONS" SET "EFF_ST_DATE" = '2010-04-01'
                                   WHERE "FGAC_REGION_CODE" = '1' AND "ACON_APAR_ID" = '7'""")
        )
    with nald.begin() as connection, pytest.raises(PermanentError, match="party 1:7: EFF_ST_DATE '2010-04-01'"):
        import_party(connection, "1", "7")
    with nald.begin() as connection, pytest.raises(PermanentError, match="party 1:70 is not in the NALD extract"):
        import_party(connection, "1", "70")
    assert rows_of(nald, "SELECT count(*) FROM crm_v2.companies") == [(0,)]


def test_roles_and_party_indexes_are_created_once(nald):
    with nald.begin() as connection:
        assert ensure_roles(connection) == 0  # the fixture made them
        connection.execute(text("DELETE FROM crm_v2.roles WHERE name = 'returnsTo'"))
        assert ensure_roles(connection) == 1
        built = ensure_indexes(connection)
        assert ensure_indexes(connection) == []
    assert rows_of(nald, "SELECT name FROM crm_v2.roles ORDER BY name") == sorted((r,) for r in ROLES)
    assert len(built) == len(PARTY_INDEXES)
    indexed = {r[0] for r in rows_of(nald, "SELECT indexname FROM pg_indexes WHERE schemaname = 'import'")}
    assert set(built) <= indexed


# --------------------------------------------------------------------------- a generated extract


def import_all(engine, threads: int = 1) -> list:
    """Every party, each in its own transaction, as the fan-out's children are (``threads`` at once)."""
    with engine.begin() as connection:
        ensure_roles(connection)
        ensure_indexes(connection)
        items = party_items(connection)

    def one(item: str):
        region, party = item.split(":")
        with engine.begin() as connection:
            return import_party(connection, region, party)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, items))


def test_importing_every_party_of_an_extract_twice_changes_nothing_the_second_time(wrls, load_nald):
    nald = load_nald(licences=150, seed=3)
    parties = {(r[1], r[0]): r for r in nald["NALD_PARTIES"][1:]}  # (region, id) -> row

    first = import_all(wrls.engine)
    after_first = snapshot(wrls, ("crm_v2",))
    second = import_all(wrls.engine)

    assert snapshot(wrls, ("crm_v2",)) == after_first
    assert second == first
    assert sorted(c.company.external_id for c in first) == sorted(f"{r}:{p}" for r, p in parties)
    companies = rows_of(wrls.engine, "SELECT count(*), count(*) FILTER (WHERE type = 'person') FROM crm_v2.companies")
    assert companies == [(len(parties), sum(1 for row in parties.values() if row[2] == "PER"))]
    contacts = rows_of(wrls.engine, "SELECT count(*) FROM crm_v2.contacts")
    assert contacts == [(sum(1 for row in parties.values() if row[2] != "ORG"),)]
    # Every holder of a licence version in force has its licence holder address.
    holders = {(v[1], v[8], v[9]) for v in nald["NALD_ABS_LIC_VERSIONS"][1:] if v[4] != "DRAFT"}
    linked = set(
        rows_of(
            wrls.engine,
            """
        SELECT split_part(c.external_id, ':', 1), split_part(c.external_id, ':', 2), split_part(a.external_id, ':', 2)
        FROM crm_v2.company_addresses ca JOIN crm_v2.companies c USING (company_id)
        JOIN crm_v2.addresses a USING (address_id) JOIN crm_v2.roles r USING (role_id)
        WHERE r.name = 'licenceHolder'""",
        )
    )
    assert linked == holders
    # The extract has agents, invoice accounts with them, and addresses used by several companies.
    assert rows_of(
        wrls.engine, "SELECT count(*) > 0 FROM crm_v2.invoice_account_addresses WHERE agent_company_id IS NOT NULL"
    ) == [(True,)]
    written = [a.external_id for c in first for a in c.addresses]
    assert len(written) > len(set(written))
    assert rows_of(wrls.engine, "SELECT count(*) FROM crm_v2.addresses") == [(len(set(written)),)]


def test_parties_imported_at_once_share_agents_and_addresses_without_conflict(wrls, load_nald):
    """Concurrent children lock shared rows in one order: no deadlock, and the result a sequential import keeps."""
    load_nald(licences=150, seed=5)
    engine = create_engine(wrls.engine.url, pool_size=8)
    try:
        first = import_all(engine, threads=6)
        after = snapshot(wrls, ("crm_v2",))
        assert import_all(engine) == first
    finally:
        engine.dispose()
    assert snapshot(wrls, ("crm_v2",)) == after
    shared = [a.external_id for c in first for a in c.addresses]
    assert len(shared) > len(set(shared))


def test_parties_written_a_chunk_at_a_time_leave_what_one_at_a_time_leaves(wrls, load_nald):
    # A chunk's companies go to the database in one round trip; importing each party alone
    # afterwards must find nothing to change.
    load_nald(licences=150, seed=7)
    with wrls.engine.begin() as connection:
        ensure_roles(connection)
        ensure_indexes(connection)
        items = sorted(tuple(item.split(":")) for item in party_items(connection))
    chunked = []
    for start in range(0, len(items), 10):
        with wrls.engine.begin() as connection:
            data = [read_party(connection, region, party) for region, party in items[start : start + 10]]
            write_companies(connection, data)
        chunked += data
    after = snapshot(wrls, ("crm_v2",))
    assert rows_of(wrls.engine, "SELECT count(*) FROM crm_v2.companies") == [(len(items),)]

    alone = import_all(wrls.engine)

    assert snapshot(wrls, ("crm_v2",)) == after
    assert sorted(alone, key=lambda c: c.company.external_id) == sorted(chunked, key=lambda c: c.company.external_id)


@pytest.mark.parametrize(
    ("before", "after", "replan"),
    [
        (15, 16, False),
        (16, 17, True),  # one company at a time: at 16, 64, 256, then every 1,024
        (17, 64, False),
        (1024, 1025, True),
        (1025, 2048, False),
        (0, 100, True),  # a chunk of 100 passing 16 and 64
        (100, 200, False),
        (200, 300, True),
        (300, 1000, False),
        (1000, 1100, True),
        (2047, 2049, True),
    ],
)
def test_statements_are_prepared_afresh_as_the_tables_grow(before, after, replan):
    assert replan_due(before, after) is replan
