"""The licence stage of licence-import against a real PostgreSQL holding a generated NALD extract.

The step functions are called in the test process with a real StepContext
(the worker end to end is tested once the Job is assembled). WRLS reference
data that other jobs fill (water.regions, the purpose tables, crm_v2.roles) is
seeded here as those jobs would.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import text

from tests.jobs.conftest import snapshot
from tests.support.helpers import query, scalar
from tests.support.nald_files import nald_date, table
from wrls_actors.jobs.licence_import.delete_removed_documents import delete_removed_documents
from wrls_actors.jobs.licence_import.import_licence import import_licence, import_licences
from wrls_actors.jobs.licence_import.import_purpose_condition_types import import_purpose_condition_types
from wrls_actors.jobs.licence_import.licence_import_rows import read_licence_rows, read_licences_rows
from wrls_actors.jobs.licence_import.queue_licences import queue_licences
from wrls_actors.runtime import PermanentError, StepContext

REGIONS = (
    (1, "A", "Anglian"),
    (2, "B", "Midlands"),
    (3, "Y", "North East"),
    (4, "N", "North West"),
    (5, "E", "South West"),
    (6, "S", "Southern"),
    (7, "T", "Thames"),
    (8, "W", "EA Wales"),
)


def context(engine, step: str, item=None, params=None, items=None) -> StepContext:
    return StepContext(
        run_id=uuid.uuid4(),
        job="licence-import",
        step=step,
        params=params or {},
        message_id=str(uuid.uuid4()),
        attempt=1,
        logger=logging.LoggerAdapter(logging.getLogger("test.licence-import"), {}),
        item=item,
        items=items,
        engine=engine,
    )


def seed_reference_data(engine) -> None:
    """What the WRLS services and charging-import-data hold before a licence import."""
    with engine.begin() as c:
        for nald_id, charge_region, name in REGIONS:
            c.execute(
                text(
                    "INSERT INTO water.regions (nald_region_id, charge_region_id, name, display_name) "
                    "VALUES (:n, :c, :name, :name) ON CONFLICT DO NOTHING"
                ),
                {"n": nald_id, "c": charge_region, "name": name},
            )
        c.execute(
            text(
                "INSERT INTO water.purposes_primary (legacy_id, description) "
                'SELECT "CODE", "DESCR" FROM import."NALD_PURP_PRIMS"'
            )
        )
        c.execute(
            text(
                "INSERT INTO water.purposes_secondary (legacy_id, description) "
                'SELECT "CODE", "DESCR" FROM import."NALD_PURP_SECS"'
            )
        )
        c.execute(
            text(
                "INSERT INTO water.purposes_uses (legacy_id, description, loss_factor) "
                'SELECT "CODE", "DESCR", "ALSF_CODE" FROM import."NALD_PURP_USES"'
            )
        )
        for name in ("licenceHolder", "returnsTo", "billing", "additionalContact"):
            c.execute(text("INSERT INTO crm_v2.roles (name) VALUES (:n) ON CONFLICT DO NOTHING"), {"n": name})


def run_licence_stage(engine, chunk: int | None = None) -> Counter:
    """delete-removed-documents, import-purpose-condition-types, queue-licences, then every licence
    (one at a time, or ``chunk`` at a time as the nightly fan-out's children)."""
    counts = Counter()
    for step, fn in (
        ("delete-removed-documents", delete_removed_documents),
        ("import-purpose-condition-types", import_purpose_condition_types),
    ):
        ctx = context(engine, step)
        fn(ctx)
        counts.update(ctx.counts)
    ctx = context(engine, "queue-licences")
    licences = queue_licences(ctx)
    if chunk:
        for start in range(0, len(licences), chunk):
            child = context(engine, "import-licence", items=licences[start : start + chunk])
            import_licences(child)
            counts.update(child.counts)
    else:
        for ref in licences:
            child = context(engine, "import-licence", item=ref)
            import_licence(child)
            counts.update(child.counts)
    counts["queued"] = len(licences)
    return counts


@pytest.fixture
def nald(wrls, load_nald):
    files = load_nald(licences=60, seed=3)
    seed_reference_data(wrls.engine)
    return files


class Licence:
    """One licence of the extract and its rows, from the CSV files (the test's own reading of them)."""

    def __init__(self, files, row: dict) -> None:
        self.row, self.ref, self.region, self.id = row, row["LIC_NO"], row["FGAC_REGION_CODE"], row["ID"]

        def mine(r, key="AABL_ID"):
            return r["FGAC_REGION_CODE"] == self.region and r[key] == self.id

        self.versions = [v for v in table(files, "NALD_ABS_LIC_VERSIONS") if mine(v) and v["STATUS"] != "DRAFT"]
        numbers = {(v["ISSUE_NO"], v["INCR_NO"]) for v in self.versions}
        self.purposes = [
            p
            for p in table(files, "NALD_ABS_LIC_PURPOSES")
            if mine(p, "AABV_AABL_ID") and (p["AABV_ISSUE_NO"], p["AABV_INCR_NO"]) in numbers
        ]
        purpose_ids = {p["ID"] for p in self.purposes}
        affects = {(t["CODE"], t["SUBCODE"]) for t in table(files, "NALD_LIC_COND_TYPES") if t["AFFECTS_ABS"] == "Y"}
        conditions = [
            c
            for c in table(files, "NALD_LIC_CONDITIONS")
            if c["FGAC_REGION_CODE"] == self.region and c["AABP_ID"] in purpose_ids
        ]
        self.conditions = [c for c in conditions if (c["ACIN_CODE"], c["ACIN_SUBCODE"]) in affects]
        self.other_conditions = [c for c in conditions if (c["ACIN_CODE"], c["ACIN_SUBCODE"]) not in affects]
        self.returns_to = [r for r in table(files, "NALD_LIC_ROLES") if mine(r) and r["ALRT_CODE"] == "RT"]


def licences(files) -> list[Licence]:
    return [Licence(files, row) for row in table(files, "NALD_ABS_LICENCES")]


# --------------------------------------------------------------------------- the whole stage


def test_every_licence_is_imported_and_a_second_import_changes_nothing(wrls, nald):
    all_licences = licences(nald)
    first = run_licence_stage(wrls.engine)
    assert first["queued"] == first["licences_imported"] == len(all_licences) == 60
    assert first["versions"] == sum(len(lic.versions) for lic in all_licences)
    assert first["purposes"] == sum(len(lic.purposes) for lic in all_licences)
    assert first["conditions"] == sum(len(lic.conditions) for lic in all_licences) > 0
    assert first["conditions_skipped"] == sum(len(lic.other_conditions) for lic in all_licences) > 0
    assert first["end_dates_changed"] == first["flagged_supplementary"] == 0
    assert scalar(wrls, "SELECT count(*) FROM water.licences") == 60
    assert scalar(wrls, "SELECT count(*) FROM crm_v2.documents WHERE date_deleted IS NULL") == 60
    assert scalar(wrls, "SELECT count(*) FROM water.licence_versions") == first["versions"]
    assert scalar(wrls, "SELECT count(*) FROM water.licence_version_purpose_conditions") == first["conditions"]
    before = snapshot(wrls, ("water", "crm_v2"))

    second = run_licence_stage(wrls.engine)
    assert second["licences_imported"] == 60
    assert second["condition_types_written"] == second["documents_deleted"] == 0
    assert snapshot(wrls, ("water", "crm_v2")) == before


def test_licences_written_a_chunk_at_a_time_leave_what_one_at_a_time_leaves(wrls, nald):
    # A statement per table for a chunk of licences: importing each alone afterwards changes nothing.
    chunked = run_licence_stage(wrls.engine, chunk=7)
    assert chunked["licences_imported"] == 60 and chunked["conditions_skipped"] > 0
    after = snapshot(wrls, ("water", "crm_v2"))

    alone = run_licence_stage(wrls.engine)

    assert snapshot(wrls, ("water", "crm_v2")) == after
    del chunked["condition_types_written"], alone["condition_types_written"]  # the first run wrote them
    assert alone == chunked


def test_the_rows_of_a_licence(wrls, nald):
    run_licence_stage(wrls.engine)
    for lic in licences(nald):
        region_id = scalar(
            wrls, "SELECT region_id::text FROM water.regions WHERE nald_region_id = :n", n=int(lic.region)
        )
        (licence,) = query(wrls, "SELECT * FROM water.licences WHERE licence_ref = :r", r=lic.ref)
        assert str(licence.region_id) == region_id
        assert licence.start_date == nald_date(lic.row["ORIG_EFF_DATE"])
        assert (licence.expired_date, licence.lapsed_date, licence.revoked_date) == (
            nald_date(lic.row["EXPIRY_DATE"]),
            nald_date(lic.row["LAPSED_DATE"]),
            nald_date(lic.row["REV_DATE"]),
        )
        assert licence.is_water_undertaker is lic.row["AREP_EIUC_CODE"].endswith("SWC")
        assert licence.regions["historicalAreaCode"] == lic.row["AREP_AREA_CODE"]
        assert licence.regions["standardUnitChargeCode"] == lic.row["AREP_SUC_CODE"]

        versions = query(
            wrls,
            "SELECT external_id, status, start_date FROM water.licence_versions WHERE licence_id = :l",
            l=licence.licence_id,
        )
        assert {v.external_id: (v.status, v.start_date) for v in versions} == {
            f"{lic.region}:{lic.id}:{v['ISSUE_NO']}:{v['INCR_NO']}": (
                {"CURR": "current", "SUPER": "superseded"}[v["STATUS"]],
                nald_date(v["EFF_ST_DATE"]),
            )
            for v in lic.versions
        }

        purposes = query(
            wrls,
            """
            SELECT p.external_id, pp.legacy_id AS prim, ps.legacy_id AS sec, pu.legacy_id AS use, p.annual_quantity
            FROM water.licence_version_purposes p
            JOIN water.licence_versions v USING (licence_version_id)
            JOIN water.purposes_primary pp USING (purpose_primary_id)
            JOIN water.purposes_secondary ps USING (purpose_secondary_id)
            JOIN water.purposes_uses pu USING (purpose_use_id)
            WHERE v.licence_id = :l""",
            l=licence.licence_id,
        )
        assert {(p.external_id, p.prim, p.sec, p.use) for p in purposes} == {
            (f"{lic.region}:{p['ID']}", p["APUR_APPR_CODE"], p["APUR_APSE_CODE"], p["APUR_APUS_CODE"])
            for p in lic.purposes
        }

        conditions = query(
            wrls,
            """
            SELECT c.external_id, t.code, t.subcode, c.param_1, c.notes
            FROM water.licence_version_purpose_conditions c
            JOIN water.licence_version_purpose_condition_types t USING (licence_version_purpose_condition_type_id)
            JOIN water.licence_version_purposes p USING (licence_version_purpose_id)
            JOIN water.licence_versions v USING (licence_version_id)
            WHERE v.licence_id = :l""",
            l=licence.licence_id,
        )
        assert {(c.external_id, c.code, c.subcode, c.param_1, c.notes) for c in conditions} == {
            (
                f"{c['ID']}:{lic.region}:{c['AABP_ID']}",
                c["ACIN_CODE"],
                c["ACIN_SUBCODE"],
                None if c["PARAM1"] == "null" else c["PARAM1"],
                None if c["TEXT"] == "null" else c["TEXT"],
            )
            for c in lic.conditions
        }

        (document,) = query(wrls, "SELECT * FROM crm_v2.documents WHERE document_ref = :r", r=lic.ref)
        ends = [d for d in (nald_date(lic.row[c]) for c in ("EXPIRY_DATE", "LAPSED_DATE", "REV_DATE")) if d]
        assert (document.regime, document.document_type, document.external_id) == (
            "water",
            "abstraction_licence",
            f"{lic.region}:{lic.id}",
        )
        assert (document.start_date, document.end_date, document.date_deleted) == (
            licence.start_date,
            min(ends, default=None),
            None,
        )

        roles = Counter(
            r.name
            for r in query(
                wrls,
                """
            SELECT r.name FROM crm_v2.document_roles dr JOIN crm_v2.roles r USING (role_id)
            WHERE dr.document_id = :d""",
                d=document.document_id,
            )
        )
        assert roles["returnsTo"] == len({r["EFF_ST_DATE"] for r in lic.returns_to})
        assert roles["licenceHolder"] == len(
            {max(nald_date(v["EFF_ST_DATE"]), licence.start_date) for v in lic.versions}
        )


def test_the_reader_takes_only_the_licences_rows_in_its_region(wrls, nald):
    lic = max(licences(nald), key=lambda lic: (len(lic.versions), len(lic.purposes), len(lic.returns_to)))
    with wrls.engine.connect() as connection:
        rows = read_licence_rows(connection, lic.ref)
        assert read_licence_rows(connection, "NO/SUCH/LICENCE") is None
    assert rows.licence["LIC_NO"] == lic.ref
    for part in (rows.versions, rows.purposes, rows.conditions, rows.roles, rows.parties, rows.addresses):
        assert {r["FGAC_REGION_CODE"] for r in part} <= {lic.region}
    assert sorted((v["ISSUE_NO"], v["INCR_NO"]) for v in rows.versions) == sorted(
        (v["ISSUE_NO"], v["INCR_NO"]) for v in lic.versions
    )
    assert {r["ACON_APAR_ID"] for r in rows.versions + rows.roles} == {p["ID"] for p in rows.parties}


def test_licences_read_together_get_the_rows_each_gets_alone(wrls, nald):
    # One statement for the chunk: each licence still gets its own rows, in the same order.
    refs = [lic.ref for lic in licences(nald)]
    with wrls.engine.connect() as connection:
        together = read_licences_rows(connection, [*refs, "NO/SUCH/LICENCE"])
        alone = {ref: read_licence_rows(connection, ref) for ref in refs}
    assert len(refs) > 1 and sorted(together) == sorted(refs)
    assert together == alone
    assert sum(len(rows.versions) for rows in together.values()) > len(refs)


# --------------------------------------------------------------------------- links to the company stage


def test_document_roles_and_versions_link_the_companies_contacts_and_addresses_of_the_company_stage(wrls, nald):
    party_types = {(p["FGAC_REGION_CODE"], p["ID"]): p["APAR_TYPE"] for p in table(nald, "NALD_PARTIES")}

    def latest(lic):
        return max(lic.versions, key=lambda v: (int(v["ISSUE_NO"]), int(v["INCR_NO"])))

    # A person and an organisation: only people are contacts.
    lic = next(
        lic
        for lic in licences(nald)
        if lic.versions
        and lic.returns_to
        and {
            party_types[(lic.region, latest(lic)["ACON_APAR_ID"])],
            party_types[(lic.region, lic.returns_to[0]["ACON_APAR_ID"])],
        }
        == {"ORG", "PER"}
    )
    holder, agent = latest(lic), lic.returns_to[0]
    ids = {}
    with wrls.engine.begin() as c:
        for party, address in (
            (holder["ACON_APAR_ID"], holder["ACON_AADD_ID"]),
            (agent["ACON_APAR_ID"], agent["ACON_AADD_ID"]),
        ):
            ext_party, ext_address = f"{lic.region}:{party}", f"{lic.region}:{address}"
            ids["company " + ext_party] = c.execute(
                text(
                    "INSERT INTO crm_v2.companies (name, external_id) VALUES ('x', :e) "
                    "ON CONFLICT (external_id) DO UPDATE SET name = 'x' RETURNING company_id::text"
                ),
                {"e": ext_party},
            ).scalar()
            ids["contact " + ext_party] = c.execute(
                text(
                    "INSERT INTO crm_v2.contacts (last_name, external_id) VALUES ('x', :e) "
                    "ON CONFLICT (external_id) DO UPDATE SET last_name = 'x' RETURNING contact_id::text"
                ),
                {"e": ext_party},
            ).scalar()
            ids["address " + ext_address] = c.execute(
                text(
                    "INSERT INTO crm_v2.addresses (address_1, external_id) VALUES ('x', :e) "
                    "ON CONFLICT (external_id) DO UPDATE SET address_1 = 'x' RETURNING address_id::text"
                ),
                {"e": ext_address},
            ).scalar()
    run_licence_stage(wrls.engine)

    (version,) = query(
        wrls,
        "SELECT company_id::text, address_id::text FROM water.licence_versions WHERE external_id = :e",
        e=f"{lic.region}:{lic.id}:{holder['ISSUE_NO']}:{holder['INCR_NO']}",
    )
    assert (version.company_id, version.address_id) == (
        ids[f"company {lic.region}:{holder['ACON_APAR_ID']}"],
        ids[f"address {lic.region}:{holder['ACON_AADD_ID']}"],
    )

    for name, row in (("licenceHolder", holder), ("returnsTo", agent)):
        start = (
            max(nald_date(row["EFF_ST_DATE"]), nald_date(lic.row["ORIG_EFF_DATE"]))
            if name == "licenceHolder"
            else nald_date(row["EFF_ST_DATE"])
        )
        (role,) = query(
            wrls,
            """
            SELECT dr.company_id::text, dr.contact_id::text, dr.address_id::text
            FROM crm_v2.document_roles dr JOIN crm_v2.roles r USING (role_id)
            JOIN crm_v2.documents d USING (document_id)
            WHERE d.document_ref = :ref AND r.name = :name AND dr.start_date = :start""",
            ref=lic.ref,
            name=name,
            start=start,
        )
        party = f"{lic.region}:{row['ACON_APAR_ID']}"
        assert role.company_id == ids["company " + party]
        assert role.address_id == ids[f"address {lic.region}:{row['ACON_AADD_ID']}"]
        assert role.contact_id == (
            None if party_types[(lic.region, row["ACON_APAR_ID"])] == "ORG" else ids["contact " + party]
        )


# --------------------------------------------------------------------------- supplementary billing


def add_charge_version(wrls, ref: str, start: date) -> None:
    with wrls.engine.begin() as c:
        c.execute(
            text("""
            INSERT INTO water.charge_versions (licence_id, licence_ref, scheme, version_number, start_date, status,
                                               region_code, source)
            SELECT licence_id, licence_ref, 'alcs', 1, :start, 'current', 1, 'nald'
            FROM water.licences WHERE licence_ref = :ref"""),
            {"ref": ref, "start": start},
        )


def test_a_changed_end_date_flags_the_licence_for_the_supplementary_billing_of_its_charge_versions(wrls, nald):
    run_licence_stage(wrls.engine)
    presroc, sroc, both, uncharged, unchanged = (lic.ref for lic in licences(nald)[:5])
    add_charge_version(wrls, presroc, date(2010, 4, 1))
    add_charge_version(wrls, sroc, date(2022, 4, 1))
    add_charge_version(wrls, both, date(2022, 3, 31))
    add_charge_version(wrls, both, date(2023, 4, 1))
    add_charge_version(wrls, unchanged, date(2010, 4, 1))
    with wrls.engine.begin() as c:
        for ref, column, value in (
            (presroc, "EXPIRY_DATE", "31/03/2031"),
            (sroc, "REV_DATE", "01/06/2025"),
            (both, "LAPSED_DATE", "02/07/2024"),
            (uncharged, "EXPIRY_DATE", "31/03/2032"),
        ):
            c.execute(
                text(f'UPDATE import."NALD_ABS_LICENCES" SET "{column}" = :v WHERE "LIC_NO" = :r'),
                {"v": value, "r": ref},
            )

    counts = run_licence_stage(wrls.engine)

    assert (counts["end_dates_changed"], counts["flagged_supplementary"]) == (4, 3)
    flags = {
        r.licence_ref: (r.include_in_supplementary_billing, r.include_in_sroc_supplementary_billing)
        for r in query(wrls, "SELECT * FROM water.licences")
    }
    assert flags.pop(presroc) == ("yes", False)
    assert flags.pop(sroc) == ("no", True)
    assert flags.pop(both) == ("yes", True)
    assert set(flags.values()) == {("no", False)}  # uncharged, unchanged and every other licence
    assert scalar(wrls, "SELECT expired_date FROM water.licences WHERE licence_ref = :r", r=uncharged) == date(
        2032, 3, 31
    )
    assert scalar(wrls, "SELECT revoked_date FROM water.licences WHERE licence_ref = :r", r=sroc) == date(2025, 6, 1)

    again = run_licence_stage(wrls.engine)
    assert (again["end_dates_changed"], again["flagged_supplementary"]) == (0, 0)


# --------------------------------------------------------------------------- deleted documents


def test_a_licence_gone_from_nald_has_its_document_deleted_and_undeleted_when_it_comes_back(wrls, nald):
    run_licence_stage(wrls.engine)
    gone = licences(nald)[3]
    with wrls.engine.begin() as c:
        c.execute(
            text('CREATE TABLE import.kept AS SELECT * FROM import."NALD_ABS_LICENCES" WHERE "LIC_NO" = :r'),
            {"r": gone.ref},
        )
        c.execute(text('DELETE FROM import."NALD_ABS_LICENCES" WHERE "LIC_NO" = :r'), {"r": gone.ref})
        c.execute(
            text(
                "INSERT INTO crm_v2.documents (regime, document_type, document_ref, start_date) "
                "VALUES ('water', 'other_type', 'NOT/A/LICENCE', '2000-01-01')"
            )
        )

    ctx = context(wrls.engine, "delete-removed-documents")
    delete_removed_documents(ctx)
    assert ctx.counts["documents_deleted"] == 1
    deleted = query(wrls, "SELECT document_ref FROM crm_v2.documents WHERE date_deleted IS NOT NULL")
    assert [d.document_ref for d in deleted] == [gone.ref]
    state = snapshot(wrls, ("crm_v2",))
    ctx = context(wrls.engine, "delete-removed-documents")
    delete_removed_documents(ctx)
    assert ctx.counts["documents_deleted"] == 0
    assert snapshot(wrls, ("crm_v2",)) == state

    with wrls.engine.begin() as c:
        c.execute(text('INSERT INTO import."NALD_ABS_LICENCES" SELECT * FROM import.kept'))
    import_licence(context(wrls.engine, "import-licence", params={"licence": gone.ref}))
    assert scalar(wrls, "SELECT count(*) FROM crm_v2.documents WHERE date_deleted IS NOT NULL") == 0


def test_an_empty_licence_table_deletes_nothing(wrls, nald):
    run_licence_stage(wrls.engine)
    with wrls.engine.begin() as c:
        c.execute(text('DELETE FROM import."NALD_ABS_LICENCES"'))
    with pytest.raises(PermanentError, match="NALD_ABS_LICENCES is empty"):
        delete_removed_documents(context(wrls.engine, "delete-removed-documents"))
    assert scalar(wrls, "SELECT count(*) FROM crm_v2.documents WHERE date_deleted IS NOT NULL") == 0


def test_a_short_licence_table_marks_no_share_of_the_documents_deleted_unless_forced(wrls, nald):
    run_licence_stage(wrls.engine)
    with wrls.engine.begin() as c:
        c.execute(
            text(
                'DELETE FROM import."NALD_ABS_LICENCES" WHERE "LIC_NO" IN ('
                'SELECT "LIC_NO" FROM import."NALD_ABS_LICENCES" ORDER BY "LIC_NO" LIMIT 10)'
            )
        )
    before = snapshot(wrls, ("crm_v2",))
    with pytest.raises(
        PermanentError,
        match=r"refusing to mark deleted 10 of 60 live rows of crm_v2.documents "
        r"\(16.7%, over WRLS_MAX_DELETE_PERCENT=5\)",
    ):
        delete_removed_documents(context(wrls.engine, "delete-removed-documents"))
    assert snapshot(wrls, ("crm_v2",)) == before

    ctx = context(wrls.engine, "delete-removed-documents", params={"force": True})
    delete_removed_documents(ctx)
    assert ctx.counts["documents_deleted"] == 10
    assert scalar(wrls, "SELECT count(*) FROM crm_v2.documents WHERE date_deleted IS NOT NULL") == 10


# --------------------------------------------------------------------------- condition types


def test_condition_types_that_affect_abstraction_are_upserted_on_code_and_subcode(wrls, nald):
    ctx = context(wrls.engine, "import-purpose-condition-types")
    import_purpose_condition_types(ctx)
    expected = {
        (t["CODE"], t["SUBCODE"]): (t["DESCR"], t["SUBCODE_DESC"])
        for t in table(nald, "NALD_LIC_COND_TYPES")
        if t["AFFECTS_ABS"] == "Y"
    }
    rows = query(wrls, "SELECT * FROM water.licence_version_purpose_condition_types")
    assert {(r.code, r.subcode): (r.description, r.subcode_description) for r in rows} == expected
    assert ctx.counts["condition_types_written"] == len(expected)

    with wrls.engine.begin() as c:
        c.execute(
            text("""UPDATE import."NALD_LIC_COND_TYPES" SET "DESCR" = 'Cessation', "SUBCODE_DESC" = 'null'
                          WHERE "CODE" = 'CES' AND "SUBCODE" = 'FLOW'""")
        )
    ctx = context(wrls.engine, "import-purpose-condition-types")
    import_purpose_condition_types(ctx)
    assert ctx.counts["condition_types_written"] == 1
    assert query(
        wrls,
        "SELECT description, subcode_description FROM water.licence_version_purpose_condition_types "
        "WHERE code = 'CES' AND subcode = 'FLOW'",
    )[0] == ("Cessation", None)


# --------------------------------------------------------------------------- failures


def test_missing_regions_stop_the_queue_and_fail_a_licence_naming_the_region(wrls, nald):
    lic = licences(nald)[0]
    with wrls.engine.begin() as c:
        c.execute(text("DELETE FROM water.regions WHERE nald_region_id = :n"), {"n": int(lic.region)})
    import_purpose_condition_types(context(wrls.engine, "import-purpose-condition-types"))
    with pytest.raises(PermanentError, match=f"water.regions has no region with nald_region_id {int(lic.region)}"):
        queue_licences(context(wrls.engine, "queue-licences"))
    with pytest.raises(PermanentError, match=f"licence {lic.ref}: water.regions has no region with nald_region_id"):
        import_licence(context(wrls.engine, "import-licence", item=lic.ref))
    assert scalar(wrls, "SELECT count(*) FROM water.licences") == 0


def test_empty_purposes_or_roles_stop_the_queue(wrls, nald):
    with wrls.engine.begin() as c:
        c.execute(text("DELETE FROM water.purposes_uses"))
        c.execute(text("DELETE FROM crm_v2.roles WHERE name = 'returnsTo'"))
    with pytest.raises(PermanentError) as failure:
        queue_licences(context(wrls.engine, "queue-licences"))
    assert "water.purposes_uses empty (run charging-import-data first)" in str(failure.value)
    assert "crm_v2.roles has no role named returnsTo" in str(failure.value)


def test_a_licence_with_a_purpose_code_wrls_lacks_fails_alone_and_writes_nothing(wrls, nald):
    import_purpose_condition_types(context(wrls.engine, "import-purpose-condition-types"))
    lic = next(lic for lic in licences(nald) if lic.purposes)
    use = lic.purposes[0]["APUR_APUS_CODE"]
    with wrls.engine.begin() as c:
        c.execute(text("DELETE FROM water.purposes_uses WHERE legacy_id = :u"), {"u": use})
    with pytest.raises(PermanentError, match=f"licence {lic.ref}: purpose codes missing .*use {use}"):
        import_licence(context(wrls.engine, "import-licence", item=lic.ref))
    assert scalar(wrls, "SELECT count(*) FROM water.licences") == 0
    assert scalar(wrls, "SELECT count(*) FROM crm_v2.documents") == 0

    other = next(o for o in licences(nald) if all(p["APUR_APUS_CODE"] != use for p in o.purposes))
    ctx = context(wrls.engine, "import-licence", item=other.ref)
    import_licence(ctx)
    assert ctx.counts["licences_imported"] == 1


def test_a_licence_with_bad_data_fails_naming_it_and_an_unknown_one_is_refused(wrls, nald):
    import_purpose_condition_types(context(wrls.engine, "import-purpose-condition-types"))
    lic = licences(nald)[0]
    with wrls.engine.begin() as c:
        c.execute(
            text("""UPDATE import."NALD_ABS_LICENCES" SET "EXPIRY_DATE" = '31/02/2030' WHERE "LIC_NO" = :r"""),
            {"r": lic.ref},
        )
    with pytest.raises(PermanentError, match=f"licence {lic.ref}: EXPIRY_DATE '31/02/2030' is not a DD/MM/YYYY date"):
        import_licence(context(wrls.engine, "import-licence", item=lic.ref))
    with pytest.raises(PermanentError, match="licence NO/SUCH/1 is not in the NALD extract"):
        import_licence(context(wrls.engine, "import-licence", params={"licence": "NO/SUCH/1"}))
    with pytest.raises(PermanentError, match="give the licence number"):
        import_licence(context(wrls.engine, "import-licence", params={}))
