"""charging-import-data end to end: a generated extract in `import`, licences in water.licences,
a real worker, RabbitMQ and PostgreSQL. The first run is made once for the module (`scenario`); each test
checks one part of what it wrote, and the last ones run the job again."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from tests.jobs.conftest import snapshot
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.nald_files import nald_date, table

JOB = "charging-import-data"
# The legacy's mappings, written out here rather than taken from the code under test.
STATUS = {"CURR": "current", "SUPER": "superseded", "DRAFT": "draft"}
FREQUENCY = {"D": "day", "W": "week", "F": "fortnight", "M": "month", "Q": "quarter", "A": "year"}
LOSS = {"V": "very low", "L": "low", "M": "medium", "H": "high", "N": "non-chargeable"}


def add_licences(wrls, refs) -> None:
    with wrls.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO water.licences (region_id, licence_ref, start_date) "
                "SELECT gen_random_uuid(), ref, DATE '2000-01-01' FROM unnest(CAST(:refs AS text[])) AS ref"
            ),
            {"refs": sorted(refs)},
        )


def run(wrls, timeout_s=120):
    return wait_run_ended(wrls, wrls.trigger(JOB), timeout_s)


@pytest.fixture(scope="module")
def scenario(module_stack):
    """A generated extract, the licences licence-import has reached in water.licences, and the job's first run."""
    wrls = module_stack.wrls
    files = module_stack.load_nald(licences=40, seed=21)
    licences = table(files, "NALD_ABS_LICENCES")
    left_out = {licences[0]["LIC_NO"], licences[1]["LIC_NO"]}  # licence-import has not reached them yet
    add_licences(wrls, {lic["LIC_NO"] for lic in licences} - left_out)
    process = module_stack.worker()
    wait_worker_ready(module_stack.vhost, "import")
    first = run(wrls)
    assert first.status == "succeeded", first.error
    return SimpleNamespace(wrls=wrls, files=files, licences=licences, left_out=left_out, process=process, first=first)


def expected_versions(scenario) -> dict[str, tuple]:
    by_key = {(lic["FGAC_REGION_CODE"], lic["ID"]): lic["LIC_NO"] for lic in scenario.licences}
    return {
        f"{v['FGAC_REGION_CODE']}:{v['AABL_ID']}:{v['VERS_NO']}": (
            by_key[(v["FGAC_REGION_CODE"], v["AABL_ID"])],
            int(v["VERS_NO"]),
            nald_date(v["EFF_ST_DATE"]),
            nald_date(v["EFF_END_DATE"]),
            STATUS[v["STATUS"]],
        )
        for v in table(scenario.files, "NALD_RET_VERSIONS")
    }


def written_versions(wrls) -> dict[str, tuple]:
    return {
        r.external_id: (r.licence_ref, r.version_number, r.start_date, r.end_date, r.status)
        for r in query(
            wrls,
            """
        SELECT v.external_id, l.licence_ref, v.version_number, v.start_date, v.end_date, v.status
        FROM water.return_versions v JOIN water.licences l USING (licence_id)""",
        )
    }


def expected_requirements(scenario) -> dict[str, tuple]:
    return {
        f"{f['FGAC_REGION_CODE']}:{f['ID']}": (
            f"{f['FGAC_REGION_CODE']}:{f['ARVN_AABL_ID']}:{f['ARVN_VERS_NO']}",
            int(f["ID"]),
            FREQUENCY[f["ARTC_REC_FREQ_CODE"]],
            f["FORM_PRODN_MONTH"] in {"65", "45", "80"},
            f["FORM_PRODN_MONTH"] in {"65", "66"},
            int(f["ABS_PERIOD_ST_DAY"]),
            int(f["ABS_PERIOD_END_MONTH"]),
            f["SITE_DESCR"],
            None if f["DESCR"] == "null" else f["DESCR"],
        )
        for f in table(scenario.files, "NALD_RET_FORMATS")
    }


def written_requirements(wrls) -> dict[str, tuple]:
    return {
        r.external_id: tuple(r)[1:]
        for r in query(
            wrls,
            """
        SELECT r.external_id, v.external_id AS version, r.legacy_id, r.returns_frequency, r.is_summer, r.is_upload,
               r.abstraction_period_start_day, r.abstraction_period_end_month, r.site_description, r.description
        FROM water.return_requirements r JOIN water.return_versions v USING (return_version_id)""",
        )
    }


def test_the_first_run_does_not_wait_for_nald(scenario):
    assert scenario.first.counts["waited_for_nald_s"] == 0


def test_reference_data_is_mapped_as_the_legacy_did(scenario):
    wrls, files = scenario.wrls, scenario.files
    agreements = {
        r.financial_agreement_code: r.disabled
        for r in query(wrls, "SELECT financial_agreement_code, disabled FROM water.financial_agreement_types")
    }
    assert agreements == {r["CODE"]: r["DISABLED"] == "Y" for r in table(files, "NALD_FIN_AGRMNT_TYPES")}
    uses = {
        r.legacy_id: (r.description, r.loss_factor, r.is_two_part_tariff)
        for r in query(wrls, "SELECT legacy_id, description, loss_factor, is_two_part_tariff FROM water.purposes_uses")
    }
    assert uses == {
        r["CODE"]: (r["DESCR"], LOSS[r["ALSF_CODE"]], r["CODE"] in {"380", "390", "400", "410", "420", "600", "620"})
        for r in table(files, "NALD_PURP_USES")
    }
    assert uses["400"][1:] == ("high", True) and uses["10"][1:] == ("very low", False)
    assert scalar(wrls, "SELECT count(*) FROM water.purposes_primary") == len(files["NALD_PURP_PRIMS"]) - 1
    assert scalar(wrls, "SELECT count(*) FROM water.purposes_secondary") == len(files["NALD_PURP_SECS"]) - 1
    combinations = {
        (r.p, r.s, r.u)
        for r in query(
            wrls,
            """
        SELECT pp.legacy_id AS p, ps.legacy_id AS s, pu.legacy_id AS u FROM water.purposes v
        JOIN water.purposes_primary pp USING (purpose_primary_id)
        JOIN water.purposes_secondary ps USING (purpose_secondary_id)
        JOIN water.purposes_uses pu USING (purpose_use_id)""",
        )
    }
    assert combinations == {
        (r["APPR_CODE"], r["APSE_CODE"], r["APUS_CODE"]) for r in table(files, "NALD_PURPOSES") if r["DISABLED"] == "N"
    }


def test_return_versions_of_the_licences_in_water_licences_are_written_the_others_counted(scenario):
    counts = scenario.first.counts
    expected, written = expected_versions(scenario), written_versions(scenario.wrls)
    assert written == {k: v for k, v in expected.items() if v[0] not in scenario.left_out}
    skipped = len(expected) - len(written)
    assert skipped > 0 and counts["return_versions_skipped_no_licence"] == skipped
    assert counts["return_versions"] == len(expected) and counts["return_versions_written"] == len(written)
    assert "return versions left out: their licence is not in water.licences yet" in scenario.process.output()


def test_return_requirements_of_the_versions_written_are_written(scenario):
    counts = scenario.first.counts
    versions, written = written_versions(scenario.wrls), written_requirements(scenario.wrls)
    expected = expected_requirements(scenario)
    assert written == {k: v for k, v in expected.items() if v[0] in versions}
    assert any(v[3] for v in written.values()) and any(v[4] for v in written.values())
    assert counts["return_requirements_skipped_no_version"] == len(expected) - len(written)
    assert counts["return_requirements_unreadable"] == 0


def test_their_purposes_are_written_once_per_repeated_key(scenario):
    counts = scenario.first.counts
    requirements = written_requirements(scenario.wrls)
    purposes = defaultdict(set)
    for p in table(scenario.files, "NALD_RET_FMT_PURPOSES"):
        if f"{p['FGAC_REGION_CODE']}:{p['ARTY_ID']}" in requirements:
            key = ":".join(
                p[c] for c in ("FGAC_REGION_CODE", "ARTY_ID", "APUR_APPR_CODE", "APUR_APSE_CODE", "APUR_APUS_CODE")
            )
            purposes[key].add(None if p["PURP_ALIAS"] == "null" else p["PURP_ALIAS"])
    linked = query(
        scenario.wrls,
        """
        SELECT p.external_id, p.purpose_alias, r.external_id || ':' || pp.legacy_id || ':' || ps.legacy_id || ':'
                                               || pu.legacy_id AS through_links
        FROM water.return_requirement_purposes p JOIN water.return_requirements r USING (return_requirement_id)
        JOIN water.purposes_primary pp USING (purpose_primary_id)
        JOIN water.purposes_secondary ps USING (purpose_secondary_id)
        JOIN water.purposes_uses pu USING (purpose_use_id)""",
    )
    assert all(r.external_id == r.through_links for r in linked)
    written_purposes = {r.external_id: r.purpose_alias for r in linked}
    assert set(written_purposes) == set(purposes)
    assert all(alias in purposes[key] for key, alias in written_purposes.items())
    assert counts["return_requirement_purposes_written"] == len(purposes)
    assert counts["return_requirement_purposes_duplicates"] == sum(
        1
        for p in table(scenario.files, "NALD_RET_FMT_PURPOSES")
        if f"{p['FGAC_REGION_CODE']}:{p['ARTY_ID']}" in requirements
    ) - len(purposes)


# The tests below run the job again: they come last, and the one that changes NALD comes last of all.


def test_the_same_extract_again_changes_no_row_timestamps_included(scenario):
    wrls = scenario.wrls
    before = snapshot(wrls, ("water",))
    second = run(wrls)
    assert second.status == "succeeded", second.error
    assert {k: v for k, v in second.counts.items() if k.endswith("_written")} == {
        k: 0 for k in scenario.first.counts if k.endswith("_written")
    }
    assert snapshot(wrls, ("water",)) == before


def test_a_change_in_nald_rewrites_that_row_alone_and_an_unreadable_row_is_left_and_counted(scenario):
    wrls, process = scenario.wrls, scenario.process
    before = snapshot(wrls, ("water",))
    version = next(k for k, v in written_versions(wrls).items() if v[4] == "current")
    region, aabl, vers = version.split(":")
    spoiled = next(k for k in written_requirements(wrls))
    with wrls.engine.begin() as connection:
        connection.execute(
            text(
                'UPDATE import."NALD_RET_VERSIONS" SET "STATUS" = \'SUPER\' '
                'WHERE "FGAC_REGION_CODE" = :r AND "AABL_ID" = :a AND "VERS_NO" = :v'
            ),
            {"r": region, "a": aabl, "v": vers},
        )
        connection.execute(
            text(
                'UPDATE import."NALD_RET_FORMATS" SET "ARTC_REC_FREQ_CODE" = \'X\' '
                'WHERE "FGAC_REGION_CODE" || \':\' || "ID" = :k'
            ),
            {"k": spoiled},
        )
    third = run(wrls)
    assert third.status == "succeeded", third.error
    assert third.counts["return_versions_written"] == 1
    assert third.counts["return_requirements_unreadable"] == 1 and third.counts["return_requirements_written"] == 0
    assert scalar(wrls, "SELECT status FROM water.return_versions WHERE external_id = :k", k=version) == "superseded"
    after = snapshot(wrls, ("water",))
    assert {k for k in after if after[k] != before[k]} == {"water.return_versions"}
    assert f"1 return requirements left out: values the rules cannot read (first: {spoiled})" in process.output()
    assert "NALD_RET_FORMATS.ARTC_REC_FREQ_CODE: 'X' is not a returns frequency code" in process.output()
    assert (
        scalar(wrls, "SELECT returns_frequency FROM water.return_requirements WHERE external_id = :k", k=spoiled)
        == expected_requirements(scenario)[spoiled][2]
    )
