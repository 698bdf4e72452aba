"""The synthetic NALD extract: its archive shape, its CSV, its determinism, and data the importer can follow."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import zipfile
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
import pyzipper

from tests.support.processes import ROOT
from wrls_actors.jobs.nald_import import return_cycles as rc
from wrls_actors.model.nald import NALD_TABLES, NULL
from wrls_actors.tools.nald_synth import (
    AUDIT_FILE,
    EXTRACT_DATE,
    FIRST_LOGGED_CYCLE,
    csv_lines,
    synthesize,
    write_extract,
    write_synthetic_extract,
)

PASSWORD = "synthetic-only"
LICENCES = 400


def inner_members(path, password: str | None = PASSWORD) -> dict[str, bytes]:
    with pyzipper.AESZipFile(path) as outer:
        assert outer.namelist() == ["NALD.zip"]
        if password is not None:
            outer.setpassword(password.encode())
        inner = outer.read("NALD.zip")
    with zipfile.ZipFile(io.BytesIO(inner)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    out = tmp_path_factory.mktemp("nald") / "nald_enc.zip"
    counts = write_synthetic_extract(out, PASSWORD, LICENCES, seed=1)
    return out, counts


@pytest.fixture(scope="module")
def members(extract):
    return inner_members(extract[0])


@pytest.fixture(scope="module")
def tables(members) -> dict[str, list[dict[str, str]]]:
    parsed = {}
    for table in NALD_TABLES:
        header, *rows = parse(members[table.file_name])
        parsed[table.name] = [dict(zip(header, row, strict=True)) for row in rows]
    return parsed


def nald_date(value: str) -> date | None:
    return None if value == NULL else datetime.strptime(value, "%d/%m/%Y").date()


def keys(rows, *columns) -> set[tuple[str, ...]]:
    return {tuple(row[c] for c in columns) for row in rows}


# --------------------------------------------------------------------------- the archive


def test_the_outer_archive_opens_with_its_password_only(extract):
    out, _ = extract
    assert AUDIT_FILE in inner_members(out)
    with pytest.raises(RuntimeError, match="password"):
        inner_members(out, password=None)
    with pytest.raises(RuntimeError, match="[Bb]ad password"):
        inner_members(out, password="not-it")
    with pyzipper.AESZipFile(out) as outer:
        assert outer.infolist()[0].flag_bits & 0x1, "NALD.zip must be encrypted"


def test_the_inner_zip_holds_one_csv_per_table_with_its_columns_as_header(members, extract):
    assert set(members) == {t.file_name for t in NALD_TABLES} | {AUDIT_FILE}
    for table in NALD_TABLES:
        first_line = members[table.file_name].split(b"\n", 1)[0].decode()
        assert first_line == ",".join(table.columns), table.name
    assert extract[1] == {t.name: len(parse(members[t.file_name])) - 1 for t in NALD_TABLES}


def test_every_row_has_the_header_field_count_and_no_empty_values(members):
    for table in NALD_TABLES:
        header, *rows = parse(members[table.file_name])
        assert rows, f"{table.name} is empty"
        for row in rows:
            assert len(row) == len(header), (table.name, row)
            assert "" not in row, (table.name, row)  # NULL is the string 'null'


def test_values_with_commas_quotes_and_newlines_are_quoted(members):
    raw = b"".join(members[t.file_name] for t in NALD_TABLES)
    assert b'""' in raw  # a doubled quote inside a quoted value
    newlines = [value for t in NALD_TABLES for row in parse(members[t.file_name]) for value in row if "\n" in value]
    commas = [value for t in NALD_TABLES for row in parse(members[t.file_name]) for value in row if "," in value]
    assert newlines and commas


def test_dates_are_dd_mm_yyyy_or_null_and_return_line_dates_are_timestamps(tables):
    dated = 0
    for table in NALD_TABLES:
        for column in (c for c in table.columns if c.endswith("_DATE") and c != "RET_DATE"):
            for row in tables[table.name]:
                if nald_date(row[column]) is not None:
                    dated += 1
    assert dated > 1000
    for row in tables["NALD_RET_LINES"]:
        assert re.fullmatch(r"\d{8}000000", row["RET_DATE"]), row
        datetime.strptime(row["RET_DATE"], "%Y%m%d%H%M%S")


def test_csv_lines_quotes_only_where_needed():
    rows = [["a,b", 'say "hi"', "plain"], ["two\nlines", NULL, "x"]]
    data = b"".join(csv_lines(["A", "B", "C"], rows))
    assert data == b'A,B,C\n"a,b","say ""hi""",plain\n"two\nlines",null,x\n'


# --------------------------------------------------------------------------- determinism


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(members, tmp_path):
    again = tmp_path / "again.zip"
    write_synthetic_extract(again, "another password", LICENCES, seed=1)
    assert inner_members(again, "another password") == members
    other = tmp_path / "other.zip"
    write_synthetic_extract(other, PASSWORD, LICENCES, seed=2)
    different = inner_members(other)
    assert different["NALD_ABS_LICENCES.txt"] != members["NALD_ABS_LICENCES.txt"]
    assert different["NALD_RET_FORM_LOGS.txt"] != members["NALD_RET_FORM_LOGS.txt"]


def test_synthesize_yields_every_table_in_order_and_a_smaller_extract_is_a_prefix_of_a_larger():
    small = [(name, list(rows)) for name, rows in synthesize(60, seed=3)]
    large = [(name, list(rows)) for name, rows in synthesize(150, seed=3)]
    assert [name for name, _ in small] == [t.name for t in NALD_TABLES]
    for (name, few), (_, many) in zip(small, large, strict=True):
        assert all(isinstance(v, str) for row in few for v in row)
        assert many[: len(few)] == few, name


# --------------------------------------------------------------------------- references


def test_rows_are_keyed_by_region_and_id_and_licence_numbers_are_unique(tables):
    licences = tables["NALD_ABS_LICENCES"]
    assert len({row["LIC_NO"] for row in licences}) == len(licences)
    assert {row["FGAC_REGION_CODE"] for row in licences} == {str(n) for n in range(1, 9)}
    for name in (
        "NALD_ABS_LICENCES",
        "NALD_PARTIES",
        "NALD_ADDRESSES",
        "NALD_POINTS",
        "NALD_ABS_LIC_PURPOSES",
        "NALD_RET_FORMATS",
        "NALD_CHG_ELEMENTS",
        "NALD_LIC_CONDITIONS",
        "NALD_BILL_HEADERS",
        "NALD_BILL_TRANS",
    ):
        rows = tables[name]
        assert len(keys(rows, "FGAC_REGION_CODE", "ID")) == len(rows), name
    # IDs restart in every region, so a reader that forgets the region is caught.
    assert Counter(row["ID"] for row in licences)["1"] == 8


def test_every_reference_points_at_a_row_of_the_same_region(tables):
    t = tables
    r = "FGAC_REGION_CODE"

    def refer(table, columns, target, target_columns):
        missing = keys(t[table], r, *columns) - keys(t[target], r, *target_columns)
        assert not missing, f"{table}.{columns} -> {target}: {sorted(missing)[:5]}"

    refer("NALD_ABS_LIC_VERSIONS", ["AABL_ID"], "NALD_ABS_LICENCES", ["ID"])
    refer("NALD_ABS_LIC_VERSIONS", ["ACON_APAR_ID", "ACON_AADD_ID"], "NALD_CONTACTS", ["APAR_ID", "AADD_ID"])
    refer("NALD_CONTACTS", ["APAR_ID"], "NALD_PARTIES", ["ID"])
    refer("NALD_CONTACTS", ["AADD_ID"], "NALD_ADDRESSES", ["ID"])
    refer("NALD_CONT_NOS", ["ACON_APAR_ID", "ACON_AADD_ID"], "NALD_CONTACTS", ["APAR_ID", "AADD_ID"])
    refer("NALD_LIC_ROLES", ["ACON_APAR_ID", "ACON_AADD_ID"], "NALD_CONTACTS", ["APAR_ID", "AADD_ID"])
    refer("NALD_LIC_ROLES", ["AABL_ID"], "NALD_ABS_LICENCES", ["ID"])
    refer(
        "NALD_ABS_LIC_PURPOSES",
        ["AABV_AABL_ID", "AABV_ISSUE_NO", "AABV_INCR_NO"],
        "NALD_ABS_LIC_VERSIONS",
        ["AABL_ID", "ISSUE_NO", "INCR_NO"],
    )
    refer("NALD_ABS_PURP_POINTS", ["AABP_ID"], "NALD_ABS_LIC_PURPOSES", ["ID"])
    refer("NALD_ABS_PURP_POINTS", ["AAIP_ID"], "NALD_POINTS", ["ID"])
    refer("NALD_LIC_CONDITIONS", ["AABP_ID"], "NALD_ABS_LIC_PURPOSES", ["ID"])
    refer("NALD_LIC_AGRMNTS", ["AABP_ID"], "NALD_ABS_LIC_PURPOSES", ["ID"])
    refer("NALD_RET_VERSIONS", ["AABL_ID"], "NALD_ABS_LICENCES", ["ID"])
    refer("NALD_RET_FORMATS", ["ARVN_AABL_ID", "ARVN_VERS_NO"], "NALD_RET_VERSIONS", ["AABL_ID", "VERS_NO"])
    refer("NALD_RET_FMT_PURPOSES", ["ARTY_ID"], "NALD_RET_FORMATS", ["ID"])
    refer("NALD_RET_FMT_POINTS", ["ARTY_ID"], "NALD_RET_FORMATS", ["ID"])
    refer("NALD_RET_FMT_POINTS", ["AAIP_ID"], "NALD_POINTS", ["ID"])
    refer("NALD_RET_FORM_LOGS", ["ARTY_ID"], "NALD_RET_FORMATS", ["ID"])
    refer("NALD_RET_LINES", ["ARFL_ARTY_ID", "ARFL_DATE_FROM"], "NALD_RET_FORM_LOGS", ["ARTY_ID", "DATE_FROM"])
    refer("NALD_CHG_VERSIONS", ["AABL_ID"], "NALD_ABS_LICENCES", ["ID"])
    refer("NALD_CHG_VERSIONS", ["AIIA_ALHA_ACC_NO"], "NALD_LH_ACCS", ["ACC_NO"])
    refer("NALD_CHG_VERSIONS", ["AIIA_IAS_CUST_REF"], "NALD_IAS_INVOICE_ACCS", ["IAS_CUST_REF"])
    refer("NALD_CHG_ELEMENTS", ["ACVR_AABL_ID", "ACVR_VERS_NO"], "NALD_CHG_VERSIONS", ["AABL_ID", "VERS_NO"])
    refer("NALD_CHG_AGRMNTS", ["ACEL_ID"], "NALD_CHG_ELEMENTS", ["ID"])
    refer("NALD_LH_ACCS", ["ACON_APAR_ID"], "NALD_PARTIES", ["ID"])
    refer("NALD_LH_AGRMNTS", ["ALHA_ACC_NO"], "NALD_LH_ACCS", ["ACC_NO"])
    refer("NALD_IAS_INVOICE_ACCS", ["ALHA_ACC_NO"], "NALD_LH_ACCS", ["ACC_NO"])
    refer("NALD_IAS_INVOICE_ACCS", ["ACON_APAR_ID", "ACON_AADD_ID"], "NALD_CONTACTS", ["APAR_ID", "AADD_ID"])
    refer("NALD_BILL_HEADERS", ["ABRN_BILL_RUN_NO", "FIN_YEAR"], "NALD_BILL_RUNS", ["BILL_RUN_NO", "FIN_YEAR"])
    refer("NALD_BILL_HEADERS", ["IAS_CUST_REF"], "NALD_IAS_INVOICE_ACCS", ["IAS_CUST_REF"])
    refer("NALD_BILL_TRANS", ["ABHD_ID", "ABRN_BILL_RUN_NO"], "NALD_BILL_HEADERS", ["ID", "ABRN_BILL_RUN_NO"])
    refer("NALD_BILL_TRANS", ["LIC_ID"], "NALD_ABS_LICENCES", ["ID"])
    # The element billed is one of the licence's own.
    refer("NALD_BILL_TRANS", ["LIC_ID", "ACEL_ID"], "NALD_CHG_ELEMENTS", ["ACVR_AABL_ID", "ID"])
    refer("NALD_TPT_RETURNS", ["ACEL_ID"], "NALD_CHG_ELEMENTS", ["ID"])
    # The import reaches a bill's licence through its lines, so no bill is without one.
    assert keys(t["NALD_BILL_HEADERS"], r, "ID") == keys(t["NALD_BILL_TRANS"], r, "ABHD_ID")
    lic_mods = [row for row in t["NALD_MOD_LOGS"] if row["AMRE_AMRE_TYPE"] == "LIC"]
    ret_mods = [row for row in t["NALD_MOD_LOGS"] if row["AMRE_AMRE_TYPE"] == "RET"]
    assert keys(lic_mods, r, "AABL_ID", "AABV_ISSUE_NO", "AABV_INCR_NO") <= keys(
        t["NALD_ABS_LIC_VERSIONS"], r, "AABL_ID", "ISSUE_NO", "INCR_NO"
    )
    assert keys(ret_mods, r, "ARVN_AABL_ID", "ARVN_VERS_NO") <= keys(t["NALD_RET_VERSIONS"], r, "AABL_ID", "VERS_NO")


def test_codes_are_in_their_lookup_tables(tables):
    t = tables
    purposes = keys(t["NALD_PURPOSES"], "APPR_CODE", "APSE_CODE", "APUS_CODE")
    for name in ("NALD_ABS_LIC_PURPOSES", "NALD_RET_FMT_PURPOSES", "NALD_CHG_ELEMENTS"):
        assert keys(t[name], "APUR_APPR_CODE", "APUR_APSE_CODE", "APUR_APUS_CODE") <= purposes, name
    assert {(p[0],) for p in purposes} <= keys(t["NALD_PURP_PRIMS"], "CODE")
    assert {(p[1],) for p in purposes} <= keys(t["NALD_PURP_SECS"], "CODE")
    assert {(p[2],) for p in purposes} <= keys(t["NALD_PURP_USES"], "CODE")
    conditions = keys(t["NALD_LIC_CONDITIONS"], "ACIN_CODE", "ACIN_SUBCODE")
    assert conditions <= keys(t["NALD_LIC_COND_TYPES"], "CODE", "SUBCODE")
    assert keys(t["NALD_POINTS"], "ASRC_CODE") <= keys(t["NALD_SOURCES"], "CODE")
    assert keys(t["NALD_ABS_PURP_POINTS"], "AMOA_CODE") <= keys(t["NALD_MEANS_OF_ABS"], "CODE")
    assert keys(t["NALD_ABS_LIC_VERSIONS"], "WA_ALTY_CODE") <= keys(t["NALD_WA_LIC_TYPES"], "CODE")
    assert keys(t["NALD_LIC_ROLES"], "ALRT_CODE") <= keys(t["NALD_LIC_ROLE_TYPES"], "CODE")
    assert keys(t["NALD_CONT_NOS"], "ACNT_CODE") <= keys(t["NALD_CONT_NO_TYPES"], "CODE")
    agreements = keys(t["NALD_FIN_AGRMNT_TYPES"], "CODE")
    for name in ("NALD_LIC_AGRMNTS", "NALD_CHG_AGRMNTS", "NALD_LH_AGRMNTS"):
        assert keys(t[name], "AFSA_CODE") <= agreements, name
    units = keys(t["NALD_REP_UNITS"], "FGAC_REGION_CODE", "CODE")
    for column in ("AREP_CAMS_CODE", "AREP_AREA_CODE", "AREP_EIUC_CODE", "AREP_SUC_CODE", "AREP_LEAP_CODE"):
        used = {k for k in keys(t["NALD_ABS_LICENCES"], "FGAC_REGION_CODE", column) if k[1] != NULL}
        assert used and used <= units, column


# --------------------------------------------------------------------------- what the importer must meet


def test_licence_versions_are_contiguous_with_one_current_version(tables):
    by_licence: dict[tuple[str, str], list[dict]] = {}
    for row in tables["NALD_ABS_LIC_VERSIONS"]:
        by_licence.setdefault((row["FGAC_REGION_CODE"], row["AABL_ID"]), []).append(row)
    statuses = Counter()
    for versions in by_licence.values():
        versions.sort(key=lambda v: (int(v["ISSUE_NO"]), int(v["INCR_NO"])))
        statuses.update(v["STATUS"] for v in versions)
        in_force = [v for v in versions if v["STATUS"] != "DRAFT"]
        assert [v["STATUS"] for v in in_force] == ["SUPER"] * (len(in_force) - 1) + ["CURR"]
        for earlier, later in pairwise(in_force):
            assert (nald_date(later["EFF_ST_DATE"]) - nald_date(earlier["EFF_END_DATE"])).days == 1
    assert statuses["SUPER"] > 50 and statuses["CURR"] == len(by_licence)
    without = len(tables["NALD_ABS_LICENCES"]) - len(by_licence)
    assert 1 <= without <= LICENCES * 0.01  # about 0.5%: the importer skips these


def test_return_versions_are_contiguous_and_form_logs_cover_the_last_years(tables):
    by_licence: dict[tuple[str, str], list[dict]] = {}
    for row in tables["NALD_RET_VERSIONS"]:
        by_licence.setdefault((row["FGAC_REGION_CODE"], row["AABL_ID"]), []).append(row)
    for versions in by_licence.values():
        versions.sort(key=lambda v: int(v["VERS_NO"]))
        assert [v["STATUS"] for v in versions] == ["SUPER"] * (len(versions) - 1) + ["CURR"]
        for earlier, later in pairwise(versions):
            assert (nald_date(later["EFF_ST_DATE"]) - nald_date(earlier["EFF_END_DATE"])).days == 1
    logs = tables["NALD_RET_FORM_LOGS"]
    starts = [nald_date(row["DATE_FROM"]) for row in logs]
    assert min(starts) >= FIRST_LOGGED_CYCLE and max(starts) <= EXTRACT_DATE
    current = [row for row in logs if nald_date(row["DATE_TO"]) >= EXTRACT_DATE]
    past = [row for row in logs if nald_date(row["DATE_TO"]) < EXTRACT_DATE]
    assert current and all(row["RECD_DATE"] == NULL for row in current)
    not_received = sum(row["RECD_DATE"] == NULL for row in past)
    assert 0.01 < not_received / len(past) < 0.12
    assert all(
        nald_date(row["DATE_TO"]) <= nald_date(row["RECD_DATE"]) < EXTRACT_DATE
        for row in past
        if row["RECD_DATE"] != NULL
    )
    # Each log sits inside one cycle of its format's kind: 1 Nov - 31 Oct for summer formats, else 1 Apr - 31 Mar.
    summer = {
        (row["FGAC_REGION_CODE"], row["ID"]): rc.is_summer_format(row["FORM_PRODN_MONTH"])
        for row in tables["NALD_RET_FORMATS"]
    }
    for row in logs:
        is_summer = summer[(row["FGAC_REGION_CODE"], row["ARTY_ID"])]
        assert rc.cycle_start(nald_date(row["DATE_FROM"]), is_summer) == rc.cycle_start(
            nald_date(row["DATE_TO"]), is_summer
        ), row
    assert len(tables["NALD_RET_LINES"]) > len(tables["NALD_RET_FORMATS"])


def test_summer_formats_successions_and_variations_are_there_to_be_handled(tables):
    formats = tables["NALD_RET_FORMATS"]
    summer = sum(row["FORM_PRODN_MONTH"] in ("65", "45", "80") for row in formats)
    assert 0.08 < summer / len(formats) < 0.25
    assert {row["ARTC_REC_FREQ_CODE"] for row in formats} == {"D", "W", "M", "Q", "A"}
    assert any(row["TIMELTD_ST_DATE"] != NULL for row in formats)
    mods = tables["NALD_MOD_LOGS"]
    succession = keys(
        [m for m in mods if m["AMRE_CODE"] == "SUCC" and m["AMRE_AMRE_TYPE"] == "LIC"],
        "FGAC_REGION_CODE",
        "AABL_ID",
        "AABV_ISSUE_NO",
        "AABV_INCR_NO",
    )
    assert 0.02 < len(succession) / LICENCES < 0.1
    # Some successions fall inside the logged years, so they cut return cycles.
    recent = [
        v
        for v in tables["NALD_ABS_LIC_VERSIONS"]
        if (v["FGAC_REGION_CODE"], v["AABL_ID"], v["ISSUE_NO"], v["INCR_NO"]) in succession
        and nald_date(v["EFF_ST_DATE"]) >= FIRST_LOGGED_CYCLE
    ]
    assert recent
    assert {"VARF", "VARM"} <= {m["AMRE_CODE"] for m in mods if m["AMRE_AMRE_TYPE"] == "RET"}


def test_parties_are_people_and_organisations_and_some_licences_end(tables):
    kinds = Counter(row["APAR_TYPE"] for row in tables["NALD_PARTIES"])
    assert kinds["PER"] > 50 and kinds["ORG"] > 50 and set(kinds) == {"PER", "ORG"}
    people = [row for row in tables["NALD_PARTIES"] if row["APAR_TYPE"] == "PER"]
    assert all(row["SALUTATION"] != NULL and row["INITIALS"] != NULL for row in people)
    licences = tables["NALD_ABS_LICENCES"]
    assert all(date(1960, 1, 1) <= nald_date(row["ORIG_EFF_DATE"]) <= date(2023, 12, 31) for row in licences)
    expiries = [nald_date(row["EXPIRY_DATE"]) for row in licences if row["EXPIRY_DATE"] != NULL]
    assert 0.1 < len(expiries) / len(licences) < 0.4
    assert min(expiries) < EXTRACT_DATE < max(expiries)
    assert any(row["REV_DATE"] != NULL for row in licences)
    assert any(row["EFF_END_DATE"] != NULL for row in tables["NALD_LIC_ROLES"])


# --------------------------------------------------------------------------- what the bill-runs import must meet

# The bill-runs import's hard-coded summer two-part tariff runs ('region:BILL_RUN_NO'), FIN_YEAR 2016 to 2022.
LEGACY_SUMMER_RUNS = {
    "1": [582, 609, 640, 673, 706, 750, 778],
    "2": [546, 572, 604, 636, 663, 694, 717],
    "3": [367, 404, 451, 483, 518, 552, 571],
    "4": [308, 323, 346, 376, 408, 428, 439],
    "5": [640, 659, 685, 715, 758, 794, 816],
    "6": [494, 517, 542, 559, 584, 602, 618],
    "7": [334, 359, 401, 443, 502, 547, 574],
    "8": [304, 328, 341, 351, 367, 379, 392],
}
MONEY = re.compile(r"-?\d+\.\d\d")


def pence(value: str) -> int:
    assert MONEY.fullmatch(value), value
    return int(Decimal(value) * 100)


def runs_by_key(tables) -> dict[tuple[str, str], dict[str, str]]:
    return {(row["FGAC_REGION_CODE"], row["BILL_RUN_NO"]): row for row in tables["NALD_BILL_RUNS"]}


def is_tpt_summer(region: str, day: date) -> bool:
    """The bill-runs import's reading of a TPT return date (Southern and Thames have a later summer)."""
    first, last = ((4, 29), (11, 28)) if region in ("6", "7") else ((4, 16), (11, 15))
    return date(day.year, *first) <= day <= date(day.year, *last)


def test_the_summer_two_part_tariff_runs_carry_the_numbers_the_import_lists(tables):
    runs = tables["NALD_BILL_RUNS"]
    assert len(keys(runs, "FGAC_REGION_CODE", "BILL_RUN_NO")) == len(runs)
    for region, listed in LEGACY_SUMMER_RUNS.items():
        two_part = [row for row in runs if row["FGAC_REGION_CODE"] == region and row["BILL_RUN_TYPE"] == "R"]
        by_year = {
            year: sorted(int(row["BILL_RUN_NO"]) for row in two_part if row["FIN_YEAR"] == str(year))
            for year in range(2014, 2023)
        }
        assert all(len(numbers) == 2 for numbers in by_year.values()), (region, by_year)  # summer and winter
        summer = [number for year in range(2016, 2023) for number in by_year[year] if number in listed]
        assert summer == listed, region  # one a year, in year order
        assert not any(number in listed for year in (2014, 2015) for number in by_year[year])


def test_there_are_bill_runs_the_import_takes_and_runs_it_must_skip(tables):
    runs = tables["NALD_BILL_RUNS"]
    taken = [
        row
        for row in runs
        if row["BILL_RUN_TYPE"] in ("A", "S", "R") and int(row["FIN_YEAR"]) >= 2015 and row["IAS_XFER_DATE"] != NULL
    ]
    assert {row["FGAC_REGION_CODE"] for row in taken} == set(LEGACY_SUMMER_RUNS)
    assert {row["BILL_RUN_TYPE"] for row in taken} == {"A", "S", "R"}
    assert any(row["FIN_YEAR"] == "2014" for row in runs)
    assert any(row["IAS_XFER_DATE"] == NULL for row in runs)
    assert {row["BILL_RUN_TYPE"] for row in runs} - {"A", "S", "R"}
    assert max(int(row["FIN_YEAR"]) for row in runs) == 2022  # PRESROC bills end with the year to March 2022
    for row in runs:
        initiated = nald_date(row["INITIATION_DATE"])
        assert date(int(row["FIN_YEAR"]), 3, 31) < initiated <= nald_date(row["BILL_RUN_STATUS_DATE"]), row
        assert int(row["NO_OF_INVS"]) >= 0 and int(row["NO_OF_CRNS"]) >= 0
        assert pence(row["VALUE_OF_INVS"]) >= 0 >= pence(row["VALUE_OF_CRNS"])
    bills = {(row["FGAC_REGION_CODE"], row["ABRN_BILL_RUN_NO"]) for row in tables["NALD_BILL_HEADERS"]}
    assert {runs_by_key(tables)[key]["BILL_RUN_TYPE"] for key in bills} == {"A", "S", "R"}
    assert any(runs_by_key(tables)[key]["FIN_YEAR"] == "2014" for key in bills)


def test_bills_add_up_their_lines_and_lines_bill_charge_versions_in_force(tables):
    r = "FGAC_REGION_CODE"
    lines: dict[tuple[str, str], list[dict]] = {}
    for row in tables["NALD_BILL_TRANS"]:
        lines.setdefault((row[r], row["ABHD_ID"]), []).append(row)
    runs = runs_by_key(tables)
    part_years = 0
    for bill in tables["NALD_BILL_HEADERS"]:
        its = lines[(bill[r], bill["ID"])]
        assert pence(bill["NET_AMOUNT"]) == sum(
            pence(line["FINAL_A1_BILLABLE_AMOUNT"]) + pence(line["FINAL_A2_BILLABLE_AMOUNT"]) for line in its
        )
        assert {line["TRANS_TYPE"] for line in its} == {bill["BILL_TYPE"]}
        assert runs[(bill[r], bill["ABRN_BILL_RUN_NO"])]["FIN_YEAR"] == bill["FIN_YEAR"]
        year = int(bill["FIN_YEAR"])
        for line in its:
            first, last = nald_date(line["BILL_ST_DATE"]), nald_date(line["BILL_END_DATE"])
            assert date(year - 1, 4, 1) <= first <= last <= date(year, 3, 31), line
            part_years += last < date(year, 3, 31)
    assert part_years  # a charge version that ended during the year is billed up to its end
    bills = {(row[r], row["ID"]): row for row in tables["NALD_BILL_HEADERS"]}
    elements = {(row[r], row["ID"]): row for row in tables["NALD_CHG_ELEMENTS"]}
    versions = {(row[r], row["AABL_ID"], row["VERS_NO"]): row for row in tables["NALD_CHG_VERSIONS"]}
    for line in tables["NALD_BILL_TRANS"]:
        element = elements[(line[r], line["ACEL_ID"])]
        version = versions[(line[r], element["ACVR_AABL_ID"], element["ACVR_VERS_NO"])]
        assert version["STATUS"] != "DRAFT" and version["BILLED_UPTO_DATE"] != NULL
        assert bills[(line[r], line["ABHD_ID"])]["IAS_CUST_REF"] == version["AIIA_IAS_CUST_REF"]
        first = nald_date(line["BILL_ST_DATE"])
        assert nald_date(version["EFF_ST_DATE"]) <= first <= nald_date(version["BILLED_UPTO_DATE"])
        assert version["EFF_END_DATE"] == NULL or nald_date(line["BILL_END_DATE"]) <= nald_date(version["EFF_END_DATE"])
        assert 0 < int(line["BILLABLE_DAYS"]) <= int(line["ABS_PER_DAYS"]) <= 366, line
        for column in (
            "BILLABLE_ANN_QTY",
            "SRCE_VALUE",
            "SEAS_VALUE",
            "LOSS_VALUE",
            "SUC_RATE",
            "EIUC_VALUE",
            "EIUC_SRCE_VALUE",
        ):
            Decimal(line[column])  # the import casts them to numeric


def test_bill_lines_are_invoices_and_credits_with_the_agreements_the_import_reads(tables):
    runs = runs_by_key(tables)
    trans = tables["NALD_BILL_TRANS"]
    agreements = keys(tables["NALD_CHG_AGRMNTS"], "FGAC_REGION_CODE", "ACEL_ID", "AFSA_CODE")
    kinds = Counter(line["TRANS_TYPE"] for line in trans)
    assert set(kinds) == {"I", "C"} and kinds["I"] > 10 * kinds["C"] > 0
    for line in trans:
        standard, compensation = pence(line["FINAL_A1_BILLABLE_AMOUNT"]), pence(line["FINAL_A2_BILLABLE_AMOUNT"])
        if line["TRANS_TYPE"] == "C":
            assert standard <= 0 and compensation <= 0, line
        else:
            assert standard >= 0 and compensation >= 0, line
        if line["ELEMENT_AGRMNTS"] == "S127":
            assert line["ELEMENT_AGRMNT_VALS"] == "x 0.5"
            assert (line["FGAC_REGION_CODE"], line["ACEL_ID"], "S127") in agreements
        elif line["ELEMENT_AGRMNTS"] == "S126":
            assert re.fullmatch(r"x 0\.\d+", line["ELEMENT_AGRMNT_VALS"]), line  # 'x ' dropped, then numeric
        else:
            assert line["ELEMENT_AGRMNTS"] == line["ELEMENT_AGRMNT_VALS"] == NULL, line
        if runs[(line["FGAC_REGION_CODE"], line["ABRN_BILL_RUN_NO"])]["BILL_RUN_TYPE"] == "R":
            assert line["ELEMENT_AGRMNTS"] == "S127", line  # two-part tariff second parts only
    annual_and_supplementary = [
        line for line in trans if runs[(line["FGAC_REGION_CODE"], line["ABRN_BILL_RUN_NO"])]["BILL_RUN_TYPE"] != "R"
    ]
    assert any(pence(line["FINAL_A1_BILLABLE_AMOUNT"]) > 0 for line in annual_and_supplementary)
    assert any(pence(line["FINAL_A2_BILLABLE_AMOUNT"]) > 0 for line in annual_and_supplementary)
    assert any(line["FINAL_A2_BILLABLE_AMOUNT"] == "0.00" for line in annual_and_supplementary)
    assert {"S127", "S126"} <= {line["ELEMENT_AGRMNTS"] for line in annual_and_supplementary}
    s130 = {line["LH_ACC_AGRMNTS"] for line in trans} - {NULL}
    assert s130 and all(agreement.startswith("S130") for agreement in s130)
    assert {line["NEW_OWN_FLAG"] for line in trans} <= {NULL, "Y"}
    numbers = [line["BILL_NO"] for line in tables["NALD_BILL_HEADERS"] if line["BILL_NO"] != NULL]
    assert numbers and len(set(numbers)) == len(numbers) < len(tables["NALD_BILL_HEADERS"])


def test_two_part_tariff_returns_match_second_part_lines_in_summer_and_winter(tables):
    r = "FGAC_REGION_CODE"
    runs = runs_by_key(tables)
    listed = {(region, str(n)) for region, numbers in LEGACY_SUMMER_RUNS.items() for n in numbers}
    second_parts = {
        (line[r], line["ACEL_ID"], runs[(line[r], line["ABRN_BILL_RUN_NO"])]["FIN_YEAR"]): (
            line[r],
            line["ABRN_BILL_RUN_NO"],
        )
        for line in tables["NALD_BILL_TRANS"]
        if runs[(line[r], line["ABRN_BILL_RUN_NO"])]["BILL_RUN_TYPE"] == "R"
    }
    returns = tables["NALD_TPT_RETURNS"]
    assert keys(returns, r, "ACEL_ID", "FIN_YEAR") == set(second_parts)
    assert len(returns) == len(second_parts)
    seasons = Counter()
    for row in returns:
        year, day = int(row["FIN_YEAR"]), nald_date(row["LATEST_RET_DATE"])
        assert date(year - 1, 4, 1) <= day <= date(year, 3, 31), row
        summer = is_tpt_summer(row[r], day)
        seasons[(row[r] in ("6", "7"), summer)] += 1
        if year >= 2016:  # the import flags the run summer from its list, the volume from the return's date
            assert (second_parts[(row[r], row["ACEL_ID"], row["FIN_YEAR"])] in listed) == summer, row
    assert all(seasons[(late, summer)] for late in (True, False) for summer in (True, False)), seasons


# --------------------------------------------------------------------------- write_extract


def test_write_extract_writes_the_members_given_and_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "nald_enc.zip"
    write_extract(
        out, "pw", [("NALD_SOURCES.txt", b"CODE,NAME\nSW,Surface Water\n"), ("../escape.txt", iter([b"a,", b"b\n"]))]
    )
    assert inner_members(out, "pw") == {"NALD_SOURCES.txt": b"CODE,NAME\nSW,Surface Water\n", "../escape.txt": b"a,b\n"}
    assert os.listdir(tmp_path) == ["nald_enc.zip"]


def test_write_extract_without_a_password_writes_a_plain_outer_zip(tmp_path):
    out = tmp_path / "plain.zip"
    write_extract(out, None, [("NALD_SOURCES.txt", b"CODE,NAME\n")])
    with zipfile.ZipFile(out) as outer:
        assert zipfile.ZipFile(io.BytesIO(outer.read("NALD.zip"))).namelist() == ["NALD_SOURCES.txt"]


def test_a_failed_write_leaves_neither_the_archive_nor_temporary_files(tmp_path):
    def broken():
        yield b"CODE\n"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_extract(tmp_path / "nald_enc.zip", "pw", [("NALD_SOURCES.txt", broken())])
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- the command


def synth(tmp_path, *args, stdin: str = "", **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WRLS_")}
    return subprocess.run(
        [sys.executable, "-m", "wrls_actors", "nald", "synth", *args],
        cwd=ROOT,
        env={**clean, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_writes_an_extract_with_the_password_from_the_environment(tmp_path):
    out = tmp_path / "nald_enc.zip"
    result = synth(tmp_path, "--licences", "30", "--out", str(out), "--seed", "5", WRLS_NALD_ZIP_PASSWORD="from-env")
    assert result.returncode == 0, result.stderr
    assert re.search(r"30 licences, \d+ rows in 41 tables, \d+ bytes", result.stdout)
    assert len(parse(inner_members(out, "from-env")["NALD_ABS_LICENCES.txt"])) == 31


def test_the_command_reads_the_password_from_the_first_line_of_stdin_and_never_from_its_arguments(tmp_path):
    out = tmp_path / "nald_enc.zip"
    result = synth(
        tmp_path,
        "--licences",
        "3",
        "--out",
        str(out),
        "--password-stdin",
        stdin="from-stdin\nnot this line\n",
        WRLS_NALD_ZIP_PASSWORD="from-env",
    )
    assert result.returncode == 0, result.stderr
    assert len(parse(inner_members(out, "from-stdin")["NALD_ABS_LICENCES.txt"])) == 4

    empty = synth(tmp_path, "--licences", "3", "--out", str(tmp_path / "empty.zip"), "--password-stdin", stdin="\n")
    assert empty.returncode == 2 and "the first line of standard input is empty" in empty.stderr
    on_the_command_line = synth(tmp_path, "--licences", "3", "--out", str(tmp_path / "x.zip"), "--password", "s3cret")
    assert on_the_command_line.returncode == 2
    assert "--password is not accepted" in on_the_command_line.stderr and "s3cret" not in on_the_command_line.stderr
    assert not (tmp_path / "empty.zip").exists() and not (tmp_path / "x.zip").exists()


def test_the_command_without_a_password_is_a_usage_error(tmp_path):
    out = tmp_path / "nald_enc.zip"
    result = synth(tmp_path, "--licences", "3", "--out", str(out))
    assert result.returncode == 2
    assert "WRLS_NALD_ZIP_PASSWORD" in result.stderr
    assert not out.exists()


def test_the_returns_rules_meet_summer_cycles_successions_variations_and_final_returns(tables):
    """Run the legacy returns rules over the extract: every branch they have is taken by some format."""
    r = "FGAC_REGION_CODE"
    licences = {(row[r], row["ID"]): row for row in tables["NALD_ABS_LICENCES"]}
    return_versions = {(row[r], row["AABL_ID"], row["VERS_NO"]): row for row in tables["NALD_RET_VERSIONS"]}
    versions = {
        (row[r], row["AABL_ID"], row["ISSUE_NO"], row["INCR_NO"]): row for row in tables["NALD_ABS_LIC_VERSIONS"]
    }
    logs, licence_mods, return_mods = {}, {}, {}
    for row in tables["NALD_RET_FORM_LOGS"]:
        logs.setdefault((row[r], row["ARTY_ID"]), []).append(rc.FormLog.from_nald_row(row))
    for row in tables["NALD_MOD_LOGS"]:
        if row["AMRE_AMRE_TYPE"] == "LIC":
            version = versions[(row[r], row["AABL_ID"], row["AABV_ISSUE_NO"], row["AABV_INCR_NO"])]
            licence_mods.setdefault((row[r], row["AABL_ID"]), []).append(
                rc.VersionModLog.from_nald_row({**version, "AMRE_CODE": row["AMRE_CODE"]})
            )
        else:
            return_mods.setdefault((row[r], row["ARVN_AABL_ID"], row["ARVN_VERS_NO"]), []).append(row["AMRE_CODE"])
    seen = Counter()
    for row in tables["NALD_RET_FORMATS"]:
        region, licence_id, number = row[r], row["ARVN_AABL_ID"], row["ARVN_VERS_NO"]
        licence = licences[(region, licence_id)]
        fmt = rc.ReturnFormat.from_nald_row(
            {
                **return_versions[(region, licence_id, number)],
                **row,
                **{c: licence[c] for c in ("EXPIRY_DATE", "REV_DATE", "LAPSED_DATE")},
            }
        )
        split = rc.succession_split_date(licence_mods.get((region, licence_id), []))
        following = return_mods.get((region, licence_id, str(int(number) + 1)), [])
        for ret in rc.format_returns(
            licence["LIC_NO"], fmt, logs.get((region, row["ID"]), []), split, EXTRACT_DATE, following
        ):
            seen.update(
                {
                    ret.status: 1,
                    "summer": ret.is_summer,
                    "split": not ret.is_current,
                    "final": ret.is_final,
                    "covid": ret.due_date == rc.COVID_DUE_DATE,
                    "variation": ret.due_date - ret.end_date > timedelta(days=rc.DUE_DAYS)
                    and ret.due_date != rc.COVID_DUE_DATE,
                }
            )
    assert all(seen[k] > 0 for k in ("completed", "due", "summer", "split", "final", "covid", "variation")), seen
    assert seen["completed"] > seen["due"]
