"""bill-runs-import end to end: a generated extract, the imports it follows in production
(charging-import-data, licence-import, charging-import-versions), then the job, with a real worker. The job's
first run is made once for the module (`scenario`); each test checks one part of what it wrote."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from tests.jobs.conftest import add_bill_licence, snapshot
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.nald_files import nald_date, table

JOB = "bill-runs-import"
BATCH_TYPES = {"A": "annual", "S": "supplementary", "R": "two_part_tariff"}
# The legacy's list of summer two-part tariff runs, written out here rather than taken from the code under test.
SUMMER = {
    f"{region}:{n}"
    for region, numbers in {
        1: (582, 609, 640, 673, 706, 750, 778),
        2: (546, 572, 604, 636, 663, 694, 717),
        3: (367, 404, 451, 483, 518, 552, 571),
        4: (308, 323, 346, 376, 408, 428, 439),
        5: (640, 659, 685, 715, 758, 794, 816),
        6: (494, 517, 542, 559, 584, 602, 618),
        7: (334, 359, 401, 443, 502, 547, 574),
        8: (304, 328, 341, 351, 367, 379, 392),
    }.items()
    for n in numbers
}
FOREIGN_KEYS = {
    "fk_original_billing_invoice_id",
    "billing_transactions_billing_invoice_licence_id_fkey",
    "billing_transactions_source_transaction_id_fkey",
}


def execute(wrls, sql: str, **params) -> None:
    with wrls.engine.begin() as connection:
        connection.execute(text(sql), params)


def run(wrls, job=JOB, timeout_s=180):
    return wait_run_ended(wrls, wrls.trigger(job), timeout_s)


def is_summer_return(region: str, day: date) -> bool:
    first, last = ((4, 29), (11, 28)) if region in ("6", "7") else ((4, 16), (11, 15))
    return date(day.year, *first) <= day <= date(day.year, *last)


@pytest.fixture(scope="module")
def scenario(module_stack):
    """The imports it follows, a run and a line NALD holds bad values in, rows billing wrote itself, and the job's
    first run."""
    wrls = module_stack.wrls
    files = module_stack.load_nald(60, seed=41)
    process = module_stack.worker()
    wait_worker_ready(module_stack.vhost, "import")
    for job in ("charging-import-data", "licence-import", "charging-import-versions"):
        prerequisite = run(wrls, job)
        assert prerequisite.status == "succeeded", prerequisite.error

    runs = table(files, "NALD_BILL_RUNS")
    lines = table(files, "NALD_BILL_TRANS")
    imported_runs = {
        f"{r['FGAC_REGION_CODE']}:{r['BILL_RUN_NO']}": r
        for r in runs
        if r["BILL_RUN_TYPE"] in BATCH_TYPES and r["IAS_XFER_DATE"] != "null" and int(r["FIN_YEAR"]) >= 2015
    }
    # A run whose date cannot be read: left out (with its bills), counted and named.
    bad_run = sorted(imported_runs)[0]
    region, number = bad_run.split(":")
    execute(
        wrls,
        'UPDATE import."NALD_BILL_RUNS" SET "INITIATION_DATE" = \'31/02/2019\' '
        'WHERE "FGAC_REGION_CODE" = :r AND "BILL_RUN_NO" = :n',
        r=region,
        n=number,
    )
    del imported_runs[bad_run]
    # A line NALD holds a bad value in: left out and named, the others imported.
    bad_line = next(t for t in lines if f"{t['FGAC_REGION_CODE']}:{t['ABRN_BILL_RUN_NO']}" in imported_runs)
    execute(
        wrls,
        'UPDATE import."NALD_BILL_TRANS" SET "BILLABLE_DAYS" = \'x\' WHERE "FGAC_REGION_CODE" = :r AND "ID" = :i',
        r=bad_line["FGAC_REGION_CODE"],
        i=bad_line["ID"],
    )
    # Rows billing wrote itself: the import must leave their two-part flags as they are.
    bill_licence = add_bill_licence(
        wrls, batch_type="two_part_tariff", year=2023, account="A99999999A", licence_ref="WRLS/1"
    )
    execute(
        wrls,
        """
        INSERT INTO water.billing_transactions (billing_invoice_licence_id, description, is_two_part_second_part_charge)
        SELECT CAST(:il AS uuid), d, f
        FROM (VALUES ('Two-part tariff, second part', true), ('Second part charge, reviewed', false)) v(d, f)""",
        il=bill_licence,
    )

    result = run(wrls)
    assert result.status == "succeeded", result.error
    return SimpleNamespace(
        wrls=wrls,
        files=files,
        process=process,
        runs=runs,
        lines=lines,
        bad_run=bad_run,
        imported_runs=imported_runs,
        bad_line=bad_line,
        counts=result.counts,
    )


def nald_batches(wrls) -> dict:
    return {b.legacy_id: b for b in query(wrls, "SELECT * FROM water.billing_batches WHERE source = 'nald'")}


def nald_invoices(wrls) -> dict:
    return {i.legacy_id: i for i in query(wrls, "SELECT * FROM water.billing_invoices WHERE legacy_id IS NOT NULL")}


def imported_lines(scenario) -> list[dict]:
    invoices = nald_invoices(scenario.wrls)
    return [t for t in scenario.lines if f"{t['FGAC_REGION_CODE']}:{t['ABHD_ID']}" in invoices]


def nald_transactions(wrls) -> dict:
    return {r.legacy_id: r for r in query(wrls, "SELECT * FROM water.billing_transactions WHERE legacy_id IS NOT NULL")}


def test_bill_runs_of_2015_on_transferred_to_the_billing_system_are_imported_the_unreadable_one_named(scenario):
    # A, S and R runs.
    batches, imported_runs = nald_batches(scenario.wrls), scenario.imported_runs
    assert set(batches) == set(imported_runs) and len(imported_runs) < len(scenario.runs)
    for legacy_id, b in batches.items():
        r = imported_runs[legacy_id]
        assert (b.batch_type, b.from_financial_year_ending, b.status, b.bill_run_number) == (
            BATCH_TYPES[r["BILL_RUN_TYPE"]],
            int(r["FIN_YEAR"]),
            "sent",
            int(r["BILL_RUN_NO"]),
        )
        assert b.is_summer == (legacy_id in SUMMER)
        assert b.net_total == int((Decimal(r["VALUE_OF_INVS"]) + Decimal(r["VALUE_OF_CRNS"])) * 100)
        assert (
            b.date_created.date() == nald_date(r["INITIATION_DATE"]) and b.metadata["BILL_RUN_NO"] == r["BILL_RUN_NO"]
        )
    assert any(b.is_summer for b in batches.values())
    assert scenario.counts["bill_runs_unreadable"] == 1 and scenario.bad_run in scenario.process.output()


def test_bills_of_those_runs_have_the_invoice_account_when_wrls_has_it(scenario):
    wrls, batches = scenario.wrls, nald_batches(scenario.wrls)
    accounts = {
        r.invoice_account_number: r.invoice_account_id for r in query(wrls, "SELECT * FROM crm_v2.invoice_accounts")
    }
    imported_headers = {
        f"{h['FGAC_REGION_CODE']}:{h['ID']}": h
        for h in table(scenario.files, "NALD_BILL_HEADERS")
        if f"{h['FGAC_REGION_CODE']}:{h['ABRN_BILL_RUN_NO']}" in scenario.imported_runs
    }
    invoices = nald_invoices(wrls)
    assert set(invoices) == set(imported_headers)
    for legacy_id, i in invoices.items():
        h = imported_headers[legacy_id]
        assert (i.net_amount, i.is_credit, i.financial_year_ending, i.invoice_account_id) == (
            Decimal(h["NET_AMOUNT"]) * 100,
            h["BILL_TYPE"] == "C",
            int(h["FIN_YEAR"]),
            accounts.get(h["IAS_CUST_REF"]),
        )
        assert i.billing_batch_id == batches[f"{h['FGAC_REGION_CODE']}:{h['ABRN_BILL_RUN_NO']}"].billing_batch_id


def test_one_bill_licence_per_bill_and_licence_its_lines_charge(scenario):
    licence_numbers = {
        (lic["FGAC_REGION_CODE"], lic["ID"]): lic["LIC_NO"] for lic in table(scenario.files, "NALD_ABS_LICENCES")
    }
    bill_licences = Counter(
        (r.legacy_id, r.licence_ref)
        for r in query(
            scenario.wrls,
            """
        SELECT i.legacy_id, il.licence_ref FROM water.billing_invoice_licences il JOIN water.billing_invoices i
        USING (billing_invoice_id) WHERE i.legacy_id IS NOT NULL""",
        )
    )
    assert set(bill_licences.values()) == {1}
    assert set(bill_licences) == {
        (f"{t['FGAC_REGION_CODE']}:{t['ABHD_ID']}", licence_numbers[(t["FGAC_REGION_CODE"], t["LIC_ID"])])
        for t in imported_lines(scenario)
    }


def test_transactions_are_a_standard_charge_per_line_and_a_compensation_charge_on_annual_and_supplementary_runs(
    scenario,
):
    files, bad = scenario.files, scenario.bad_line
    run_type = {(r["FGAC_REGION_CODE"], r["BILL_RUN_NO"]): r["BILL_RUN_TYPE"] for r in scenario.runs}
    undertaker = {
        (lic["FGAC_REGION_CODE"], lic["ID"])
        for lic in table(files, "NALD_ABS_LICENCES")
        if lic["AREP_EIUC_CODE"].endswith("SWC")
    }
    expected = {}
    for t in imported_lines(scenario):
        if (t["FGAC_REGION_CODE"], t["ID"]) == (bad["FGAC_REGION_CODE"], bad["ID"]):
            continue
        key = f"{t['FGAC_REGION_CODE']}:{t['ID']}"
        kind = run_type[(t["FGAC_REGION_CODE"], t["ABRN_BILL_RUN_NO"])]
        expected[f"{key}:S"] = Decimal(t["FINAL_A1_BILLABLE_AMOUNT"]) * 100
        nil_undertaker = (
            Decimal(t["FINAL_A2_BILLABLE_AMOUNT"]) == 0 and (t["FGAC_REGION_CODE"], t["LIC_ID"]) in undertaker
        )
        if kind in ("A", "S") and not nil_undertaker:
            expected[f"{key}:C"] = Decimal(t["FINAL_A2_BILLABLE_AMOUNT"]) * 100
    written = nald_transactions(scenario.wrls)
    assert {k: w.net_amount for k, w in written.items()} == expected
    assert scenario.counts["bill_lines_unreadable"] == 1
    assert f"{bad['FGAC_REGION_CODE']}:{bad['ID']}" in scenario.process.output()


def test_two_part_tariff_parts_and_charge_elements_of_the_transactions(scenario):
    written = nald_transactions(scenario.wrls)
    second_parts = [w for w in written.values() if w.is_two_part_second_part_charge]
    assert second_parts and all(w.description.startswith("Second part ") for w in second_parts)
    assert all(w.metadata["ELEMENT_AGRMNTS"] == "S127" for w in second_parts)
    assert any(w.description.startswith("First part ") for w in written.values())
    # The charge element when charging-import-versions wrote it (not for versions whose account WRLS lacks).
    elements = {r.external_id: r.charge_element_id for r in query(scenario.wrls, "SELECT * FROM water.charge_elements")}
    assert all(
        w.charge_element_id == elements.get(f"{w.metadata['FGAC_REGION_CODE']}:{w.metadata['ACEL_ID']}")
        for w in written.values()
    )
    assert any(w.charge_element_id is not None for w in written.values())


def test_wrls_own_transactions_keep_their_two_part_flags(scenario):
    # The legacy reset every one and set them from the description.
    assert sorted(
        tuple(r)
        for r in query(
            scenario.wrls,
            """
        SELECT description, is_two_part_second_part_charge FROM water.billing_transactions
        WHERE legacy_id IS NULL ORDER BY description""",
        )
    ) == [("Second part charge, reviewed", False), ("Two-part tariff, second part", True)]


def test_volumes_one_per_two_part_tariff_run_element_year_and_season_from_the_tpt_return_date(scenario):
    tpt = {
        (r["FGAC_REGION_CODE"], r["ACEL_ID"], int(r["FIN_YEAR"])): is_summer_return(
            r["FGAC_REGION_CODE"], nald_date(r["LATEST_RET_DATE"])
        )
        for r in table(scenario.files, "NALD_TPT_RETURNS")
    }
    batches = nald_batches(scenario.wrls)
    volumes = query(
        scenario.wrls,
        """
        SELECT b.legacy_id, ce.external_id, v.financial_year, v.is_summer, v.is_approved FROM water.billing_volumes v
        JOIN water.billing_batches b USING (billing_batch_id) JOIN water.charge_elements ce USING (charge_element_id)""",
    )
    assert volumes and len({(v.legacy_id, v.external_id, v.financial_year) for v in volumes}) == len(volumes)
    for v in volumes:
        region, element = v.external_id.split(":")
        assert v.is_approved and v.is_summer == tpt[(region, element, v.financial_year)]
        assert batches[v.legacy_id].batch_type == "two_part_tariff"


def test_charge_version_years_are_what_each_nald_run_billed(scenario):
    years = query(scenario.wrls, "SELECT * FROM water.billing_batch_charge_version_years")
    assert years and len(
        {(y.billing_batch_id, y.charge_version_id, y.financial_year_ending, y.transaction_type) for y in years}
    ) == len(years)
    assert {y.transaction_type for y in years} == {"annual", "two_part_tariff"}


def test_the_water_service_foreign_keys_are_all_there(scenario):
    constraints = set(
        scalar_list(
            scenario.wrls,
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text LIKE 'water.billing_%'",
        )
    )
    assert FOREIGN_KEYS <= constraints


# Runs the jobs again: last.


def test_a_second_run_changes_nothing_and_charging_import_versions_again_keeps_every_version_billed(scenario):
    wrls = scenario.wrls
    before = snapshot(wrls, ("water",))
    again = run(wrls)
    assert again.status == "succeeded", again.error
    assert again.counts["transactions_written"] == 0 and again.counts["volumes_written"] == 0
    assert snapshot(wrls, ("water",)) == before
    assert run(wrls, "charging-import-versions").status == "succeeded"
    assert (
        scalar(
            wrls,
            """
        SELECT count(*) FROM water.billing_batch_charge_version_years y
        WHERE NOT EXISTS (SELECT 1 FROM water.charge_versions cv WHERE cv.charge_version_id = y.charge_version_id)""",
        )
        == 0
    )


def scalar_list(wrls, sql: str) -> list:
    return [row[0] for row in query(wrls, sql)]
