"""charging-import-versions end to end: a generated extract, charging-import-data and licence-import
first (as in production), then the job, with a real worker, RabbitMQ and PostgreSQL. The main scenario's
first run is made once for the module (`scenario`); each test checks one part of it."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from itertools import pairwise
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from tests.jobs.conftest import add_bill_licence, snapshot
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.nald_files import nald_date, table

JOB = "charging-import-versions"
SROC_START = date(2022, 4, 1)
# The legacy's mappings, written out here rather than taken from the code under test.
SEASON = {"S": "summer", "W": "winter", "A": "all year"}
SOURCE = {"S": "supported", "U": "unsupported", "K": "kielder", "T": "tidal"}
LOSS = {"H": "high", "M": "medium", "L": "low", "V": "very low", "N": "non-chargeable"}


def run(wrls, job=JOB, timeout_s=120, params=None):
    return wait_run_ended(wrls, wrls.trigger(job, params), timeout_s)


def execute(wrls, sql: str, **params) -> None:
    with wrls.engine.begin() as connection:
        connection.execute(text(sql), params)


def prepare(wrls, worker, vhost, load_nald, licences=40, seed=31):
    files = load_nald(licences, seed=seed)
    process = worker()
    wait_worker_ready(vhost, "import")
    for job in ("charging-import-data", "licence-import"):
        prerequisite = run(wrls, job, 180)
        assert prerequisite.status == "succeeded", prerequisite.error
    return files, process


def metadata_by_licence(wrls) -> dict[str, list]:
    by_licence = defaultdict(list)
    for row in query(wrls, "SELECT * FROM water_import.charge_versions_metadata ORDER BY start_date, version_number"):
        by_licence[":".join(row.external_id.split(":")[:2])].append(row)
    return by_licence


@pytest.fixture(scope="module")
def scenario(module_stack):
    """The job's first run, with one invoice account WRLS does not have (yet): its licence's versions must be
    left out."""
    wrls = module_stack.wrls
    files, _ = prepare(wrls, module_stack.worker, module_stack.vhost, module_stack.load_nald)
    versions = table(files, "NALD_CHG_VERSIONS")
    unlinked = next(v for v in versions if v["STATUS"] == "CURR")["AIIA_IAS_CUST_REF"]
    execute(wrls, "DELETE FROM crm_v2.invoice_accounts WHERE invoice_account_number = :n", n=unlinked)
    first = run(wrls)
    assert first.status == "succeeded", first.error

    # Not every NALD account is transferred: a version is linked when WRLS has its invoice account and its
    # account holder's company (licence-import writes them).
    accounts = {
        r.invoice_account_number: r.invoice_account_id for r in query(wrls, "SELECT * FROM crm_v2.invoice_accounts")
    }
    holders = {
        (a["FGAC_REGION_CODE"], a["ACC_NO"]): f"{a['FGAC_REGION_CODE']}:{a['ACON_APAR_ID']}"
        for a in table(files, "NALD_LH_ACCS")
    }
    companies = {r.external_id: r.company_id for r in query(wrls, "SELECT * FROM crm_v2.companies")}

    def linked(v) -> bool:
        return (
            v["AIIA_IAS_CUST_REF"] in accounts
            and holders.get((v["FGAC_REGION_CODE"], v["AIIA_ALHA_ACC_NO"])) in companies
        )

    in_force = [v for v in versions if v["STATUS"] != "DRAFT"]
    wanted = {
        f"{v['FGAC_REGION_CODE']}:{v['AABL_ID']}:{v['VERS_NO']}": v
        for v in in_force
        if linked(v) and nald_date(v["EFF_ST_DATE"]) < SROC_START
    }
    return SimpleNamespace(
        wrls=wrls,
        files=files,
        first=first,
        unlinked=unlinked,
        accounts=accounts,
        holders=holders,
        companies=companies,
        linked=linked,
        in_force=in_force,
        wanted=wanted,
    )


def nald_metadata(by_licence) -> dict:
    return {m.external_id: m for rows in by_licence.values() for m in rows if not m.is_nald_gap}


def written_versions(wrls) -> dict:
    return {
        r.external_id: r
        for r in query(
            wrls,
            """
        SELECT cv.*, cr.description AS reason FROM water.charge_versions cv
        LEFT JOIN water.change_reasons cr USING (change_reason_id)""",
        )
    }


def stored_elements(wrls) -> dict:
    return {
        r.external_id: r
        for r in query(
            wrls,
            """
        SELECT ce.*, cv.external_id AS version, pu.legacy_id AS use FROM water.charge_elements ce
        JOIN water.charge_versions cv USING (charge_version_id) JOIN water.purposes_uses pu USING (purpose_use_id)""",
        )
    }


def test_the_metadata_holds_the_linked_presroc_nald_versions_plus_gaps(scenario):
    counts = scenario.first.counts
    assert set(nald_metadata(metadata_by_licence(scenario.wrls))) == set(scenario.wanted)
    assert counts["charge_versions_not_linked"] == sum(not scenario.linked(v) for v in scenario.in_force)
    assert any(v["AIIA_IAS_CUST_REF"] == scenario.unlinked for v in scenario.in_force if not scenario.linked(v))
    assert counts["charge_version_metadata_gaps"] > 0


def test_per_licence_the_current_rows_follow_each_other_from_its_start_to_its_end(scenario):
    # Versions and gaps without overlap, from the licence start (or the first version) to the licence end (or open).
    licences = {f"{lic['FGAC_REGION_CODE']}:{lic['ID']}": lic for lic in table(scenario.files, "NALD_ABS_LICENCES")}
    for key, rows in metadata_by_licence(scenario.wrls).items():
        current = [r for r in rows if r.status == "current"]
        licence = licences[key]
        starts = [nald_date(licence["ORIG_EFF_DATE"])]
        assert current[0].start_date in starts + [min(r.start_date for r in rows if not r.is_nald_gap)], key
        for earlier, later in pairwise(current):
            assert earlier.end_date == later.start_date - timedelta(days=1), key
        ends = [d for d in map(nald_date, (licence["EXPIRY_DATE"], licence["REV_DATE"], licence["LAPSED_DATE"])) if d]
        assert current[-1].end_date in (min(ends) if ends else None, None), key


def test_charge_versions_are_every_metadata_row_before_sroc_the_nald_ones_with_account_and_company(scenario):
    by_licence = metadata_by_licence(scenario.wrls)
    nald_rows = nald_metadata(by_licence)
    written = written_versions(scenario.wrls)
    expected_ids = {m.external_id for rows in by_licence.values() for m in rows if m.start_date < SROC_START}
    assert set(written) == expected_ids
    for external_id, cv in written.items():
        assert (cv.scheme, cv.source, cv.region_code) == ("alcs", "nald", int(external_id.split(":")[0]))
        if external_id in scenario.wanted:
            nald = scenario.wanted[external_id]
            meta = nald_rows[external_id]
            assert (cv.start_date, cv.end_date, cv.status) == (meta.start_date, meta.end_date, meta.status)
            assert cv.invoice_account_id == scenario.accounts[nald["AIIA_IAS_CUST_REF"]]
            assert (
                cv.company_id
                == scenario.companies[scenario.holders[(nald["FGAC_REGION_CODE"], nald["AIIA_ALHA_ACC_NO"])]]
            )
            assert cv.billed_upto_date == nald_date(nald["BILLED_UPTO_DATE"])
            assert (cv.apportionment, cv.error) == (nald["APPORTIONMENT"] == "Y", nald["IN_ERROR_STATUS"] == "Y")
            assert cv.reason is None
        else:
            assert (cv.reason, cv.invoice_account_id) == ("NALD gap", None)
    assert any(cv.status == "superseded" for cv in written.values())


def test_charge_elements_of_the_versions_written_are_mapped_as_the_legacy_did(scenario):
    files, written = scenario.files, written_versions(scenario.wrls)
    s127 = {(a["FGAC_REGION_CODE"], a["ACEL_ID"]) for a in table(files, "NALD_CHG_AGRMNTS") if a["AFSA_CODE"] == "S127"}
    elements = [
        e
        for e in table(files, "NALD_CHG_ELEMENTS")
        if f"{e['FGAC_REGION_CODE']}:{e['ACVR_AABL_ID']}:{e['ACVR_VERS_NO']}" in written
    ]
    version_has_s127 = {
        f"{e['FGAC_REGION_CODE']}:{e['ACVR_AABL_ID']}:{e['ACVR_VERS_NO']}"
        for e in elements
        if (e["FGAC_REGION_CODE"], e["ID"]) in s127
    }
    stored = stored_elements(scenario.wrls)
    assert set(stored) == {f"{e['FGAC_REGION_CODE']}:{e['ID']}" for e in elements}
    for e in elements:
        ce = stored[f"{e['FGAC_REGION_CODE']}:{e['ID']}"]
        version = f"{e['FGAC_REGION_CODE']}:{e['ACVR_AABL_ID']}:{e['ACVR_VERS_NO']}"
        assert (ce.version, ce.season, ce.season_derived, ce.source, ce.loss, ce.use) == (
            version,
            SEASON[e["ASFT_CODE"]],
            SEASON[e["ASFT_CODE_DERIVED"]],
            SOURCE[e["ASRF_CODE"]],
            LOSS[e["ALSF_CODE"]],
            e["APUR_APUS_CODE"],
        )
        assert float(ce.authorised_annual_quantity) == float(e["AUTH_ANN_QTY"])
        assert ce.time_limited_end_date == nald_date(e["TIMELTD_END_DATE"])
        assert ce.factors_overridden == (e["FCTS_OVERRIDDEN"] == "Y")
        has_s127 = (e["FGAC_REGION_CODE"], e["ID"]) in s127
        assert ce.is_section_127_agreement_enabled == (has_s127 or version not in version_has_s127)
    assert scenario.first.counts["charge_elements_written"] == len(elements)


# The tests below run the job again: they come last, and the one that changes NALD comes last of all.


def test_a_second_run_over_the_same_data_changes_nothing_at_all(scenario):
    wrls = scenario.wrls
    before = snapshot(wrls, ("water", "water_import", "crm_v2"))
    again = run(wrls)
    assert again.status == "succeeded", again.error
    assert again.counts["charge_versions_written"] == 0 and again.counts["charge_elements_written"] == 0
    assert snapshot(wrls, ("water", "water_import", "crm_v2")) == before


def test_rows_nald_dropped_are_deleted_past_the_delete_guard_only_when_forced_and_billed_ones_kept(scenario):
    wrls = scenario.wrls
    written, stored = written_versions(wrls), stored_elements(wrls)
    # NALD drops an element, a whole version and another version whose element a bill run refers to.
    nald_versions = sorted(k for k in scenario.wanted if k in written and any(s.version == k for s in stored.values()))
    gone_version, billed_version = nald_versions[0], nald_versions[1]
    kept_element = next(k for k, s in stored.items() if s.version == billed_version)
    dropped_element = next(k for k, s in stored.items() if s.version not in (gone_version, billed_version))
    bill_for(wrls, stored[kept_element].charge_element_id)
    for key in (gone_version, billed_version):
        region, licence_id, number = key.split(":")
        execute(
            wrls,
            'DELETE FROM import."NALD_CHG_VERSIONS" WHERE "FGAC_REGION_CODE" = :r AND "AABL_ID" = :l '
            'AND "VERS_NO" = :n',
            r=region,
            l=licence_id,
            n=number,
        )
    region, element_id = dropped_element.split(":")
    execute(
        wrls,
        'DELETE FROM import."NALD_CHG_ELEMENTS" WHERE "FGAC_REGION_CODE" = :r AND "ID" = :i',
        r=region,
        i=element_id,
    )

    # More than WRLS_MAX_DELETE_PERCENT of the elements at once: refused, nothing deleted, unless forced.
    # (The steps before it update what changed, so the rows kept are compared, not the whole schema.)
    def kept():
        return [
            sorted(r.external_id for r in query(wrls, f"SELECT external_id FROM water.{t}"))
            for t in ("charge_versions", "charge_elements")
        ]

    before_refusal = kept()
    refused = run(wrls)
    assert refused.status == "failed"
    assert "of water.charge_elements" in refused.error and "WRLS_MAX_DELETE_PERCENT=5" in refused.error
    assert kept() == before_refusal
    cleaned = run(wrls, params={"force": True})
    assert cleaned.status == "succeeded", cleaned.error
    remaining_versions = {r.external_id for r in query(wrls, "SELECT external_id FROM water.charge_versions")}
    remaining_elements = {r.external_id for r in query(wrls, "SELECT external_id FROM water.charge_elements")}
    assert gone_version not in remaining_versions and billed_version in remaining_versions
    assert dropped_element not in remaining_elements and kept_element in remaining_elements
    assert not {k for k, s in stored.items() if s.version == gone_version} & remaining_elements
    assert cleaned.counts["charge_elements_kept_billed"] == 1 and cleaned.counts["charge_versions_kept_billed"] == 1
    assert cleaned.counts["charge_elements_deleted"] >= 2 and cleaned.counts["charge_versions_deleted"] >= 1


def bill_for(wrls, charge_element_id: str) -> None:
    """A bill run transaction that charged this element (what billing would have written)."""
    bill_licence = add_bill_licence(wrls, batch_type="annual", year=2021, account="A00000000A", licence_ref="X")
    execute(
        wrls,
        "INSERT INTO water.billing_transactions (billing_invoice_licence_id, charge_element_id) "
        "VALUES (CAST(:il AS uuid), CAST(:e AS uuid))",
        il=bill_licence,
        e=charge_element_id,
    )


def test_a_licence_with_unreadable_versions_keeps_what_it_had_and_the_others_go_on(wrls, worker, vhost, load_nald):
    files, process = prepare(wrls, worker, vhost, load_nald, licences=30, seed=32)
    assert run(wrls).status == "succeeded"
    before = metadata_by_licence(wrls)
    versions_before = snapshot(wrls, ("water",))["water.charge_versions"]
    bad = next(
        v
        for v in table(files, "NALD_CHG_VERSIONS")
        if f"{v['FGAC_REGION_CODE']}:{v['AABL_ID']}" in before and v["STATUS"] == "CURR"
    )
    key = f"{bad['FGAC_REGION_CODE']}:{bad['AABL_ID']}"
    execute(
        wrls,
        'UPDATE import."NALD_CHG_VERSIONS" SET "EFF_ST_DATE" = \'31/02/2019\' '
        'WHERE "FGAC_REGION_CODE" = :r AND "AABL_ID" = :l',
        r=bad["FGAC_REGION_CODE"],
        l=bad["AABL_ID"],
    )
    # An element with a source code NALD does not have: left out and named, the others written.
    element = table(files, "NALD_CHG_ELEMENTS")[0]
    execute(
        wrls,
        'UPDATE import."NALD_CHG_ELEMENTS" SET "ASRF_CODE" = \'Q\' WHERE "FGAC_REGION_CODE" = :r AND "ID" = :i',
        r=element["FGAC_REGION_CODE"],
        i=element["ID"],
    )

    second = run(wrls)
    assert second.status == "succeeded", second.error
    assert second.counts["licences_unreadable"] == 1
    assert metadata_by_licence(wrls) == before
    assert snapshot(wrls, ("water",))["water.charge_versions"] == versions_before
    assert second.counts["charge_elements_unreadable"] == 1
    output = process.output()
    assert f"licence {key}: its charge versions are left as they were" in output and "31/02/2019" in output
    assert "NALD_CHG_ELEMENTS.ASRF_CODE: 'Q' is not a source code" in output


def test_without_the_nald_gap_change_reason_the_step_fails_and_says_why(wrls, worker, vhost, load_nald):
    load_nald(5, seed=33)
    execute(wrls, "DELETE FROM water.change_reasons")
    worker()
    wait_worker_ready(vhost, "import")
    result = run(wrls)
    assert result.status == "failed"
    assert "water.change_reasons has no row 'NALD gap'" in result.error
    assert scalar(wrls, "SELECT count(*) FROM water.charge_versions") == 0
