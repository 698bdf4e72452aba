"""read_licence(s) against a real PostgreSQL: only each licence's own rows, keyed by (region, id)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import create_engine, insert, text

from tests.support import services as svc
from wrls_actors.jobs.nald_import.licence_rows import LicenceRows, read_licence, read_licences
from wrls_actors.jobs.nald_import.permit_json import document_metadata, json_text, permit_licence
from wrls_actors.jobs.nald_import.returns import licence_returns
from wrls_actors.jobs.nald_import.write_licence import write_returns
from wrls_actors.model.base import metadata
from wrls_actors.model.nald import BY_NAME, NULL, TABLES
from wrls_actors.runtime.database import sqlalchemy_url


@pytest.fixture
def engine(database):
    engine = create_engine(sqlalchemy_url(svc.database_url(database)))
    with engine.begin() as connection:
        connection.execute(text("CREATE SCHEMA IF NOT EXISTS import"))
        metadata.create_all(connection, tables=list(TABLES.values()), checkfirst=True)
    yield engine
    engine.dispose()


def add(connection, table: str, *rows: dict) -> None:
    """Rows as the loader writes them: every column a string, 'null' where unset."""
    columns = BY_NAME[table].columns
    connection.execute(insert(TABLES[table]), [{c: r.get(c, NULL) for c in columns} for r in rows])


def licence(connection, region: str, ref: str, tag: str) -> None:
    """Licence 1 of ``region`` and its rows, with the same ids in every region; ``tag`` marks the region's text."""
    r = {"FGAC_REGION_CODE": region}
    add(
        connection,
        "NALD_ABS_LICENCES",
        {**r, "ID": "1", "LIC_NO": ref, "AREP_CAMS_CODE": "C1", "ORIG_EFF_DATE": "01/04/2000"},
    )
    add(
        connection,
        "NALD_ABS_LIC_VERSIONS",
        {
            **r,
            "AABL_ID": "1",
            "ISSUE_NO": "10",
            "INCR_NO": "0",
            "STATUS": "CURR",
            "EFF_ST_DATE": "01/04/2010",
            "WA_ALTY_CODE": "FULL",
            "ACON_APAR_ID": "7",
            "ACON_AADD_ID": "8",
        },
        {
            **r,
            "AABL_ID": "1",
            "ISSUE_NO": "9",
            "INCR_NO": "0",
            "STATUS": "SUPER",
            "EFF_ST_DATE": "01/04/2000",
            "EFF_END_DATE": "31/03/2010",
            "WA_ALTY_CODE": "FULL",
            "ACON_APAR_ID": "7",
            "ACON_AADD_ID": "8",
        },
    )
    add(
        connection,
        "NALD_ABS_LIC_PURPOSES",
        {
            **r,
            "ID": "20",
            "AABV_AABL_ID": "1",
            "AABV_ISSUE_NO": "10",
            "AABV_INCR_NO": "0",
            "APUR_APPR_CODE": "A",
            "APUR_APSE_CODE": "AGR",
            "APUR_APUS_CODE": "140",
            "NOTES": tag,
        },
    )
    add(connection, "NALD_ABS_PURP_POINTS", {**r, "AABP_ID": "20", "AAIP_ID": "50", "AMOA_CODE": "UNP"})
    add(
        connection,
        "NALD_POINTS",
        {**r, "ID": "50", "ASRC_CODE": "GW", "LOCAL_NAME": f"Point {tag}"},
        {**r, "ID": "51", "ASRC_CODE": "GW", "LOCAL_NAME": f"Format point {tag}"},
    )
    add(
        connection,
        "NALD_LIC_CONDITIONS",
        {**r, "ID": "30", "AABP_ID": "20", "ACIN_CODE": "CES", "ACIN_SUBCODE": "FLOW", "TEXT": tag, "DISP_ORD": "1"},
    )
    add(connection, "NALD_LIC_AGRMNTS", {**r, "AABP_ID": "20", "AFSA_CODE": "S127"})
    add(
        connection,
        "NALD_PARTIES",
        {**r, "ID": "7", "APAR_TYPE": "ORG", "NAME": f"Holder {tag}"},
        {**r, "ID": "9", "APAR_TYPE": "PER", "NAME": f"Agent {tag}"},
    )
    add(
        connection,
        "NALD_ADDRESSES",
        {**r, "ID": "8", "ADDR_LINE1": f"Holder street {tag}"},
        {**r, "ID": "10", "ADDR_LINE1": f"Agent street {tag}"},
    )
    add(connection, "NALD_CONTACTS", {**r, "APAR_ID": "7", "AADD_ID": "8"})
    add(
        connection,
        "NALD_LIC_ROLES",
        {
            **r,
            "AABL_ID": "1",
            "ALRT_CODE": "RT",
            "ACON_APAR_ID": "9",
            "ACON_AADD_ID": "10",
            "EFF_ST_DATE": "01/01/2015",
        },
    )
    add(
        connection,
        "NALD_CONT_NOS",
        {**r, "ACON_APAR_ID": "9", "ACON_AADD_ID": "10", "ACNT_CODE": "TEL", "NO": f"tel {tag}"},
    )
    add(connection, "NALD_REP_UNITS", {**r, "CODE": "C1", "NAME": f"Cams {tag}"})
    add(
        connection,
        "NALD_RET_VERSIONS",
        {**r, "AABL_ID": "1", "VERS_NO": "1", "STATUS": "CURR", "EFF_ST_DATE": "01/04/2010"},
    )
    add(
        connection,
        "NALD_RET_FORMATS",
        {
            **r,
            "ID": "500",
            "ARVN_AABL_ID": "1",
            "ARVN_VERS_NO": "1",
            "ARTC_REC_FREQ_CODE": "M",
            "FORM_PRODN_MONTH": "66",
            "SITE_DESCR": tag,
        },
    )
    add(
        connection,
        "NALD_RET_FMT_PURPOSES",
        {
            **r,
            "ARTY_ID": "500",
            "APUR_APPR_CODE": "A",
            "APUR_APSE_CODE": "AGR",
            "APUR_APUS_CODE": "140",
            "PURP_ALIAS": tag,
        },
    )
    add(connection, "NALD_RET_FMT_POINTS", {**r, "ARTY_ID": "500", "AAIP_ID": "51"})
    add(
        connection,
        "NALD_RET_FORM_LOGS",
        {**r, "ARTY_ID": "500", "DATE_FROM": "01/04/2020", "DATE_TO": "31/03/2021", "RECD_DATE": "10/04/2021"},
        {**r, "ARTY_ID": "500", "DATE_FROM": "01/04/2019", "DATE_TO": "31/03/2020", "RECD_DATE": "10/04/2020"},
    )
    add(
        connection,
        "NALD_MOD_LOGS",
        {**r, "AABL_ID": "1", "AABV_ISSUE_NO": "10", "AABV_INCR_NO": "0", "AMRE_CODE": "SUCC", "AMRE_AMRE_TYPE": "LIC"},
        {**r, "ARVN_AABL_ID": "1", "ARVN_VERS_NO": "1", "AMRE_CODE": "NEW", "AMRE_AMRE_TYPE": "RET"},
    )


def national_codes(connection) -> None:
    add(connection, "NALD_WA_LIC_TYPES", {"CODE": "FULL", "DESCR": "Full"}, {"CODE": "TRAN", "DESCR": "Transfer"})
    add(
        connection,
        "NALD_LIC_COND_TYPES",
        {"CODE": "CES", "SUBCODE": "FLOW", "DESCR": "Cessation"},
        {"CODE": "XXX", "SUBCODE": "A", "DESCR": "Unused"},
    )
    add(connection, "NALD_MEANS_OF_ABS", {"CODE": "UNP", "DESCR": "Pump"}, {"CODE": "GRAV", "DESCR": "Gravity"})
    add(connection, "NALD_SOURCES", {"CODE": "GW", "NAME": "Groundwater"}, {"CODE": "SW", "NAME": "Surface"})
    add(connection, "NALD_PURP_PRIMS", {"CODE": "A", "DESCR": "Agriculture"}, {"CODE": "I", "DESCR": "Industrial"})
    add(connection, "NALD_PURP_SECS", {"CODE": "AGR", "DESCR": "General Agriculture"})
    add(connection, "NALD_PURP_USES", {"CODE": "140", "DESCR": "Spray Irrigation"})
    add(connection, "NALD_LIC_ROLE_TYPES", {"CODE": "RT", "DESCR": "Returns to"}, {"CODE": "LC", "DESCR": "Contact"})
    add(connection, "NALD_CONT_NO_TYPES", {"CODE": "TEL", "DESCR": "Telephone"})


def test_read_licence_returns_only_the_licences_rows_in_its_region(engine):
    with engine.begin() as connection:
        national_codes(connection)
        licence(connection, "1", "01/AAA", "one")
        licence(connection, "2", "02/BBB", "two")  # same ids, another region

    with engine.connect() as connection:
        rows = read_licence(connection, "02/BBB")
        assert read_licence(connection, "03/CCC") is None

    assert rows.licence["LIC_NO"] == "02/BBB" and rows.licence["FGAC_REGION_CODE"] == "2"
    regional = [
        f
        for f in LicenceRows.__dataclass_fields__
        if f
        not in (
            "licence",
            "licence_types",
            "condition_types",
            "means_of_abstraction",
            "role_types",
            "contact_number_types",
            "sources",
            "purposes_primary",
            "purposes_secondary",
            "purpose_uses",
        )
    ]
    for name in regional:
        table_rows = getattr(rows, name)
        assert table_rows, f"{name} is empty"
        assert {r["FGAC_REGION_CODE"] for r in table_rows} == {"2"}, name
    # Every column of the table, values as stored ('null' included); sorted by number, not text.
    assert [(v["ISSUE_NO"], v["EFF_END_DATE"]) for v in rows.versions] == [("9", "31/03/2010"), ("10", NULL)]
    assert [r["NOTES"] for r in rows.purposes] == ["two"]
    assert sorted(r["LOCAL_NAME"] for r in rows.points) == ["Format point two", "Point two"]
    assert [r["NAME"] for r in rows.parties] == ["Holder two", "Agent two"]
    assert [r["ADDR_LINE1"] for r in rows.addresses] == ["Holder street two", "Agent street two"]
    assert [r["NAME"] for r in rows.cams] == ["Cams two"]
    assert [r["DATE_FROM"] for r in rows.form_logs] == ["01/04/2019", "01/04/2020"]
    assert sorted(r["AMRE_CODE"] for r in rows.mod_logs) == ["NEW", "SUCC"]
    # Code tables: only the codes the licence uses.
    assert [r["CODE"] for r in rows.licence_types] == ["FULL"]
    assert [(r["CODE"], r["SUBCODE"]) for r in rows.condition_types] == [("CES", "FLOW")]
    assert [r["CODE"] for r in rows.means_of_abstraction] == ["UNP"]
    assert [r["CODE"] for r in rows.sources] == ["GW"]
    assert [r["CODE"] for r in rows.purposes_primary] == ["A"]
    assert [r["CODE"] for r in rows.role_types] == ["RT"]
    assert list(rows.licence) == list(BY_NAME["NALD_ABS_LICENCES"].columns)

    # The pure builders take these rows as they come, and twice the same rows give the same JSON.
    today = date(2026, 11, 29)
    permit = permit_licence(rows, today)
    assert permit.data["data"]["current_version"]["party"]["NAME"] == "Holder two"
    assert document_metadata(rows, permit)["contacts"][1]["name"] == "Agent two"
    with engine.connect() as connection:
        again = permit_licence(read_licence(connection, "02/BBB"), today)
    assert json_text(again.data) == json_text(permit.data)


def test_a_licence_with_nothing_but_its_row_reads_as_empty_lists(engine):
    with engine.begin() as connection:
        add(connection, "NALD_ABS_LICENCES", {"ID": "5", "LIC_NO": "05/EEE", "FGAC_REGION_CODE": "5"})
    with engine.connect() as connection:
        rows = read_licence(connection, "05/EEE")
    assert rows.licence["ID"] == "5"
    assert all(getattr(rows, f) == [] for f in LicenceRows.__dataclass_fields__ if f != "licence")
    assert permit_licence(rows, date(2026, 11, 29)) is None


def test_licences_read_together_get_each_its_own_rows(engine):
    # The same NALD ids in three regions, and the same codes: one statement for all of them
    # must still hand each licence its own rows and no other's.
    with engine.begin() as connection:
        national_codes(connection)
        licence(connection, "1", "01/AAA", "one")
        licence(connection, "2", "02/BBB", "two")
        add(connection, "NALD_ABS_LICENCES", {"ID": "5", "LIC_NO": "05/EEE", "FGAC_REGION_CODE": "5"})
        # A log naming the licence in both its columns: found by both joins, read once.
        add(
            connection,
            "NALD_MOD_LOGS",
            {"FGAC_REGION_CODE": "1", "AABL_ID": "1", "ARVN_AABL_ID": "1", "AMRE_CODE": "X"},
        )

    with engine.connect() as connection:
        together = read_licences(connection, ["02/BBB", "03/CCC", "05/EEE", "01/AAA"])
        alone = {ref: read_licence(connection, ref) for ref in ("01/AAA", "02/BBB", "05/EEE")}

    assert sorted(together) == ["01/AAA", "02/BBB", "05/EEE"]  # 03/CCC is not in the extract
    assert together == alone
    assert sorted(r["AMRE_CODE"] for r in together["01/AAA"].mod_logs) == ["NEW", "SUCC", "X"]
    assert sorted(r["AMRE_CODE"] for r in together["02/BBB"].mod_logs) == ["NEW", "SUCC"]
    for ref, region, tag in (("01/AAA", "1", "one"), ("02/BBB", "2", "two")):
        rows = together[ref]
        assert {r["FGAC_REGION_CODE"] for r in rows.versions + rows.parties + rows.points + rows.mod_logs} == {region}
        assert [r["NOTES"] for r in rows.purposes] == [tag]
        assert [r["CODE"] for r in rows.licence_types] == ["FULL"]  # a code both use, in each
        assert len(rows.addresses) == 2 and len(rows.form_logs) == 2
    assert all(getattr(together["05/EEE"], f) == [] for f in LicenceRows.__dataclass_fields__ if f != "licence")
    with engine.connect() as connection:
        assert read_licences(connection, []) == {}


def test_each_return_is_stored_with_its_format_metadata_and_its_own_cycle_flags(wrls, load_nald):
    # A chunk's statement carries each format's metadata once and each return's two flags; what
    # PostgreSQL stores must be the return's whole metadata.
    load_nald(licences=40, seed=11)
    today = date(2026, 11, 29)
    with wrls.engine.begin() as connection:
        refs = [r[0] for r in connection.execute(text('SELECT "LIC_NO" FROM import."NALD_ABS_LICENCES"'))]
        found = read_licences(connection, refs)
        returns = [r for rows in found.values() for r in licence_returns(rows, today)]
        written, _ = write_returns(connection, sorted(found), returns)
        stored = dict(connection.execute(text("SELECT return_id, metadata FROM returns.returns")).all())
    assert written == len(returns) == len(stored) > 0
    assert {r.metadata["isFinal"] for r in returns} == {True, False}
    assert len({id(r.format_metadata) for r in returns}) < len(returns)  # formats with several returns
    for r in returns:
        assert stored[r.return_id] == json.loads(json.dumps(r.metadata, default=str)), r.return_id
