"""licence-import end to end: charging-import-data then licence-import on a generated extract, with a real worker."""

from sqlalchemy import text

from tests.jobs.conftest import snapshot
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.nald_files import table
from wrls_actors.runtime import LedgerView


def test_companies_then_licences_are_imported_and_a_second_run_changes_nothing(wrls, worker, vhost, load_nald):
    files = load_nald(40, seed=21)
    worker()
    wait_worker_ready(vhost, "import")
    charging = wait_run_ended(wrls, wrls.trigger("charging-import-data"), 120)
    assert charging.status == "succeeded", charging.error

    run = wait_run_ended(wrls, wrls.trigger("licence-import"), 180)
    assert run.status == "succeeded", run.error
    parties = {(p["FGAC_REGION_CODE"], p["ID"]) for p in table(files, "NALD_PARTIES")}
    licences = {lic["LIC_NO"] for lic in table(files, "NALD_ABS_LICENCES")}
    assert run.counts["import-company_queued"] == len(parties)
    assert run.counts["companies_imported"] == len(parties)
    assert run.counts["import-licence_queued"] == len(licences)
    assert run.counts["licences_imported"] == len(licences)
    assert scalar(wrls, "SELECT count(*) FROM crm_v2.companies") == len(parties)
    assert scalar(wrls, "SELECT count(*) FROM water.licences") == len(licences)
    assert scalar(wrls, "SELECT count(*) FROM crm_v2.documents WHERE date_deleted IS NULL") == len(licences)
    assert scalar(wrls, "SELECT count(*) FROM water.licence_versions") > 0
    assert scalar(wrls, "SELECT count(*) FROM crm_v2.document_roles") > 0

    before = snapshot(wrls, ("water", "crm_v2"))
    again = wait_run_ended(wrls, wrls.trigger("licence-import"), 180)
    assert again.status == "succeeded", again.error
    assert snapshot(wrls, ("water", "crm_v2")) == before

    # One licence and one company on demand, beside the nightly job's definitions.
    ref = sorted(licences)[0]
    one = wait_run_ended(wrls, wrls.trigger("licence-import-licence", {"licence": ref}), 60)
    assert one.status == "succeeded" and one.counts["licences_imported"] == 1
    region, party = sorted(parties)[0]
    company = wait_run_ended(wrls, wrls.trigger("licence-import-company", {"party": f"{region}:{party}"}), 60)
    assert company.status == "succeeded" and company.counts["companies_imported"] == 1
    assert snapshot(wrls, ("water", "crm_v2")) == before


def test_a_licence_with_bad_data_fails_alone_named_and_its_chunk_is_written_around_it(wrls, worker, vhost, load_nald):
    files = load_nald(40, seed=22)
    worker()
    wait_worker_ready(vhost, "import")
    assert wait_run_ended(wrls, wrls.trigger("charging-import-data"), 120).status == "succeeded"
    licences = sorted(lic["LIC_NO"] for lic in table(files, "NALD_ABS_LICENCES"))
    bad = licences[len(licences) // 2]
    with wrls.engine.begin() as connection:
        connection.execute(
            text(
                'UPDATE import."NALD_ABS_LIC_VERSIONS" v SET "STATUS" = \'ZZZ\' FROM import."NALD_ABS_LICENCES" l '
                'WHERE l."LIC_NO" = :ref AND v."FGAC_REGION_CODE" = l."FGAC_REGION_CODE" AND v."AABL_ID" = l."ID"'
            ),
            {"ref": bad},
        )

    run = wait_run_ended(wrls, wrls.trigger("licence-import"), 180)
    assert (run.status, run.children_failed) == ("completed-with-failures", 1)
    assert run.note == f"1 of {len(licences)} import-licence items failed: {bad}"
    assert run.counts["licences_imported"] == len(licences) - 1
    # Every licence but the bad one, though all 40 travelled in one chunk.
    imported = {r.licence_ref for r in query(wrls, "SELECT licence_ref FROM water.licences")}
    assert imported == set(licences) - {bad}
    [failed] = [c for c in LedgerView(wrls.engine).children(run.run_id, 4) if c.status == "failed"]
    assert f"licence {bad}" in failed.error and "unknown STATUS 'ZZZ'" in failed.error
