"""Schema `import`: the NALD extract, one table per CSV file, every column varchar.

NALD's own conventions are kept as they are, because other services read
these tables directly: the string ``'null'`` stands for NULL, dates are
``DD/MM/YYYY``, and rows are keyed by (``FGAC_REGION_CODE``, ``ID``).

The columns listed are the ones WRLS reads;
a real extract carries more, and the loader keeps whatever its header names.
``indexes`` are the lookups the jobs make, built after the load.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import Column, Index, String, Table

from .base import metadata

S = "import"


@dataclasses.dataclass(frozen=True)
class NaldTable:
    name: str
    columns: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def file_name(self) -> str:
        return f"{self.name}.txt"


def _t(name: str, columns: str, *indexes: str) -> NaldTable:
    return NaldTable(name, tuple(columns.split()), tuple(tuple(i.split()) for i in indexes))


_PERIOD = "PERIOD_ST_DAY PERIOD_ST_MONTH PERIOD_END_DAY PERIOD_END_MONTH"
_ABS_PERIOD = "ABS_PERIOD_ST_DAY ABS_PERIOD_ST_MONTH ABS_PERIOD_END_DAY ABS_PERIOD_END_MONTH"
_APUR = "APUR_APPR_CODE APUR_APSE_CODE APUR_APUS_CODE"

NALD_TABLES: tuple[NaldTable, ...] = (
    _t(
        "NALD_ABS_LICENCES",
        "ID LIC_NO FGAC_REGION_CODE ORIG_EFF_DATE EXPIRY_DATE REV_DATE LAPSED_DATE "
        "AREP_CAMS_CODE AREP_AREA_CODE AREP_EIUC_CODE AREP_SUC_CODE AREP_LEAP_CODE",
        "LIC_NO",
        "FGAC_REGION_CODE ID",
    ),
    _t(
        "NALD_ABS_LIC_VERSIONS",
        "AABL_ID FGAC_REGION_CODE ISSUE_NO INCR_NO STATUS EFF_ST_DATE EFF_END_DATE WA_ALTY_CODE "
        "ACON_APAR_ID ACON_AADD_ID",
        "FGAC_REGION_CODE AABL_ID",
    ),
    _t("NALD_WA_LIC_TYPES", "CODE DESCR", "CODE"),
    _t(
        "NALD_ABS_LIC_PURPOSES",
        f"ID AABV_AABL_ID AABV_ISSUE_NO AABV_INCR_NO FGAC_REGION_CODE {_APUR} {_PERIOD} "
        "TIMELTD_ST_DATE TIMELTD_END_DATE NOTES ANNUAL_QTY",
        "FGAC_REGION_CODE AABV_AABL_ID",
        "FGAC_REGION_CODE ID",
    ),
    _t("NALD_ABS_PURP_POINTS", "AABP_ID AAIP_ID AMOA_CODE FGAC_REGION_CODE", "FGAC_REGION_CODE AABP_ID"),
    _t(
        "NALD_POINTS", "ID FGAC_REGION_CODE ASRC_CODE NGR1_SHEET NGR1_EAST NGR1_NORTH LOCAL_NAME", "FGAC_REGION_CODE ID"
    ),
    _t("NALD_MEANS_OF_ABS", "CODE DESCR", "CODE"),
    _t("NALD_SOURCES", "CODE NAME", "CODE"),
    _t("NALD_PURP_PRIMS", "CODE DESCR", "CODE"),
    _t("NALD_PURP_SECS", "CODE DESCR", "CODE"),
    _t("NALD_PURP_USES", "CODE DESCR ALSF_CODE", "CODE"),
    _t("NALD_PURPOSES", "APPR_CODE APSE_CODE APUS_CODE DISABLED", "APPR_CODE APSE_CODE APUS_CODE"),
    _t(
        "NALD_LIC_CONDITIONS",
        "ID AABP_ID FGAC_REGION_CODE ACIN_CODE ACIN_SUBCODE PARAM1 PARAM2 TEXT DISP_ORD",
        "FGAC_REGION_CODE AABP_ID",
    ),
    _t("NALD_LIC_COND_TYPES", "CODE SUBCODE DESCR SUBCODE_DESC AFFECTS_ABS", "CODE SUBCODE"),
    _t("NALD_LIC_AGRMNTS", "AABP_ID FGAC_REGION_CODE AFSA_CODE EFF_ST_DATE EFF_END_DATE", "FGAC_REGION_CODE AABP_ID"),
    _t("NALD_PARTIES", "ID FGAC_REGION_CODE APAR_TYPE NAME SALUTATION INITIALS FORENAME", "FGAC_REGION_CODE ID"),
    _t(
        "NALD_ADDRESSES",
        "ID FGAC_REGION_CODE ADDR_LINE1 ADDR_LINE2 ADDR_LINE3 ADDR_LINE4 TOWN COUNTY POSTCODE COUNTRY",
        "FGAC_REGION_CODE ID",
    ),
    _t("NALD_CONTACTS", "APAR_ID AADD_ID FGAC_REGION_CODE", "FGAC_REGION_CODE APAR_ID"),
    _t(
        "NALD_CONT_NOS",
        "ACON_APAR_ID ACON_AADD_ID ACNT_CODE FGAC_REGION_CODE NO",
        "FGAC_REGION_CODE ACON_APAR_ID ACON_AADD_ID",
    ),
    _t("NALD_CONT_NO_TYPES", "CODE DESCR", "CODE"),
    _t(
        "NALD_LIC_ROLES",
        "AABL_ID FGAC_REGION_CODE ALRT_CODE ACON_APAR_ID ACON_AADD_ID EFF_ST_DATE EFF_END_DATE",
        "FGAC_REGION_CODE AABL_ID",
    ),
    _t("NALD_LIC_ROLE_TYPES", "CODE DESCR", "CODE"),
    _t("NALD_REP_UNITS", "CODE FGAC_REGION_CODE NAME", "FGAC_REGION_CODE CODE"),
    _t(
        "NALD_RET_VERSIONS",
        "AABL_ID VERS_NO FGAC_REGION_CODE STATUS EFF_ST_DATE EFF_END_DATE",
        "FGAC_REGION_CODE AABL_ID",
    ),
    _t(
        "NALD_RET_FORMATS",
        f"ID ARVN_AABL_ID ARVN_VERS_NO FGAC_REGION_CODE ARTC_REC_FREQ_CODE FORM_PRODN_MONTH {_ABS_PERIOD} "
        "SITE_DESCR DESCR TPT_FLAG TIMELTD_ST_DATE TIMELTD_END_DATE",
        "FGAC_REGION_CODE ARVN_AABL_ID",
        "FGAC_REGION_CODE ID",
    ),
    _t("NALD_RET_FMT_PURPOSES", f"ARTY_ID FGAC_REGION_CODE {_APUR} PURP_ALIAS", "FGAC_REGION_CODE ARTY_ID"),
    _t("NALD_RET_FMT_POINTS", "ARTY_ID AAIP_ID FGAC_REGION_CODE", "FGAC_REGION_CODE ARTY_ID"),
    _t(
        "NALD_RET_FORM_LOGS",
        "ARTY_ID FGAC_REGION_CODE DATE_FROM DATE_TO RECD_DATE MONTHLY_RET_QTY FORM_PROD_ST_DATE",
        "FGAC_REGION_CODE ARTY_ID",
    ),
    _t(
        "NALD_RET_LINES",
        "ARFL_ARTY_ID FGAC_REGION_CODE ARFL_DATE_FROM RET_DATE RET_QTY",
        "ARFL_ARTY_ID FGAC_REGION_CODE",
    ),
    _t(
        "NALD_MOD_LOGS",
        "AABL_ID AABV_ISSUE_NO AABV_INCR_NO ARVN_AABL_ID ARVN_VERS_NO AMRE_CODE AMRE_AMRE_TYPE FGAC_REGION_CODE",
        "FGAC_REGION_CODE AABL_ID",
        "FGAC_REGION_CODE ARVN_AABL_ID",
    ),
    _t(
        "NALD_CHG_VERSIONS",
        "AABL_ID VERS_NO FGAC_REGION_CODE STATUS EFF_ST_DATE EFF_END_DATE AIIA_IAS_CUST_REF AIIA_ALHA_ACC_NO "
        "APPORTIONMENT IN_ERROR_STATUS BILLED_UPTO_DATE",
        "FGAC_REGION_CODE AABL_ID",
    ),
    _t(
        "NALD_CHG_ELEMENTS",
        f"ID ACVR_AABL_ID ACVR_VERS_NO FGAC_REGION_CODE {_ABS_PERIOD} AUTH_ANN_QTY BILLABLE_ANN_QTY ASFT_CODE "
        f"ASFT_CODE_DERIVED ASRF_CODE ALSF_CODE {_APUR} FCTS_OVERRIDDEN TIMELTD_ST_DATE TIMELTD_END_DATE DESCR",
        "FGAC_REGION_CODE ACVR_AABL_ID",
        "FGAC_REGION_CODE ID",
    ),
    _t("NALD_CHG_AGRMNTS", "ACEL_ID FGAC_REGION_CODE AFSA_CODE EFF_ST_DATE EFF_END_DATE", "FGAC_REGION_CODE ACEL_ID"),
    _t("NALD_LH_ACCS", "ACC_NO ACON_APAR_ID FGAC_REGION_CODE", "FGAC_REGION_CODE ACC_NO"),
    _t(
        "NALD_LH_AGRMNTS",
        "ALHA_ACC_NO AFSA_CODE EFF_ST_DATE EFF_END_DATE FGAC_REGION_CODE",
        "FGAC_REGION_CODE ALHA_ACC_NO",
    ),
    _t(
        "NALD_IAS_INVOICE_ACCS",
        "IAS_CUST_REF ALHA_ACC_NO FGAC_REGION_CODE IAS_XFER_DATE ACON_APAR_ID ACON_AADD_ID",
        "FGAC_REGION_CODE ACON_APAR_ID",
    ),
    _t("NALD_FIN_AGRMNT_TYPES", "CODE DESCR DISABLED", "CODE"),
    # Read only by the one-off bill-runs import.
    _t(
        "NALD_BILL_RUNS",
        "BILL_RUN_NO FGAC_REGION_CODE BILL_RUN_TYPE FIN_YEAR INITIATION_DATE BILL_RUN_STATUS_DATE "
        "NO_OF_INVS VALUE_OF_INVS NO_OF_CRNS VALUE_OF_CRNS IAS_XFER_DATE",
        "FGAC_REGION_CODE BILL_RUN_NO",
    ),
    _t(
        "NALD_BILL_HEADERS",
        "ID FGAC_REGION_CODE ABRN_BILL_RUN_NO IAS_CUST_REF BILL_NO BILL_TYPE FIN_YEAR NET_AMOUNT",
        "FGAC_REGION_CODE ID",
        "FGAC_REGION_CODE ABRN_BILL_RUN_NO",
    ),
    _t(
        "NALD_BILL_TRANS",
        "ID FGAC_REGION_CODE ABHD_ID ABRN_BILL_RUN_NO LIC_ID ACEL_ID TRANS_TYPE BILL_ST_DATE BILL_END_DATE "
        "ABS_PER_DAYS BILLABLE_DAYS BILLABLE_ANN_QTY ELEMENT_AGRMNTS ELEMENT_AGRMNT_VALS LH_ACC_AGRMNTS "
        "NEW_OWN_FLAG SRCE_VALUE SEAS_VALUE LOSS_VALUE SUC_RATE EIUC_VALUE EIUC_SRCE_VALUE "
        "FINAL_A1_BILLABLE_AMOUNT FINAL_A2_BILLABLE_AMOUNT",
        "FGAC_REGION_CODE ID",
        "FGAC_REGION_CODE ABHD_ID",
    ),
    _t("NALD_TPT_RETURNS", "ACEL_ID FGAC_REGION_CODE FIN_YEAR LATEST_RET_DATE", "FGAC_REGION_CODE ACEL_ID"),
)

BY_NAME: dict[str, NaldTable] = {t.name: t for t in NALD_TABLES}

# In the extract but never loaded (the legacy skipped them too: audit copies, nobody reads them).
SKIPPED_FILES = frozenset({"NALD_RET_LINES_AUDIT.txt", "NALD_RET_FORM_LOGS_AUDIT.txt"})

# NALD writes NULL as this string, in every column.
NULL = "null"
DATE_FORMAT = "%d/%m/%Y"


def _table(nald: NaldTable) -> Table:
    table = Table(nald.name, metadata, *(Column(c, String) for c in nald.columns), schema=S)
    for n, columns in enumerate(nald.indexes):
        Index(f"{nald.name}_{n}".lower(), *(table.c[c] for c in columns))
    return table


TABLES: dict[str, Table] = {t.name: _table(t) for t in NALD_TABLES}
