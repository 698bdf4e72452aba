"""What the WRLS jobs read from the environment (the runtime's own settings are
in ``runtime/settings.py``).

Read once per process, when a step first needs it. Secrets (the NALD zip
password, the GOV.UK Notify API key, the Charging Module client secret) are
never logged, never put on a command line, and masked in ``repr``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from .runtime.errors import ConfigurationError
from .runtime.settings import Variable

PREFIX = "WRLS"

VARIABLES: tuple[Variable, ...] = (
    Variable(
        "NALD_BUCKET",
        None,
        "Bucket holding the NALD extract, `<prefix>/nald_enc.zip`. Credentials come from boto3's "
        "usual chain (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, or the instance's role).",
    ),
    Variable("NALD_PREFIX", "wal_nald_data_release", "Key prefix of the extract (the legacy `S3_NALD_IMPORT_PATH`)."),
    Variable(
        "NALD_LOCAL_DIR",
        None,
        "Read `<dir>/<prefix>/nald_enc.zip` from a folder instead of the object store (the embedded"
        " default does; its ETag is the file's MD5).",
    ),
    Variable(
        "NALD_ZIP_PASSWORD", None, "Password of the outer archive. Secret: never logged, never on a command line."
    ),
    # A production extract's biggest table is a few hundred MB (the synthetic 71,000-licence extract is
    # 223 MB of CSV in all): 4 GiB leaves room for years of growth and still stops a bomb early.
    Variable(
        "NALD_MAX_MEMBER_BYTES",
        str(4 * 2**30),
        "Largest unpacked archive member accepted; checked against the archive's directory before "
        "unpacking and again while bytes flow. A production extract's biggest table is a few "
        "hundred MB. The default is 4 GiB.",
    ),
    Variable(
        "NALD_MAX_RATIO",
        "100",
        "Largest compression ratio (unpacked over packed size) of an archive member over 1 MiB, "
        "checked like the size: deflated CSV is 5 to 15 times smaller, a zip bomb of zeros 1,000 "
        "times.",
    ),
    # Real NALD changes by well under 1% of a table's rows a night: a fall of more than this is a
    # short or cut extract, and swapping it in would mark real licences deleted.
    Variable(
        "NALD_MAX_SHRINK_PERCENT",
        "10",
        "Largest fall, in percent, of a key NALD table's row count (licences, versions, purposes, "
        "parties, addresses, roles, return versions, charge versions and elements) against the "
        "`import` in place that nald-import swaps in. Real NALD changes by well under 1% a night, "
        "so a bigger fall is a short or cut extract, whose swap would mark real licences deleted: "
        "the step fails naming the table, both counts and this setting. A forced run (`force=true`)"
        " and the first import pass.",
    ),
    Variable(
        "MAX_DELETE_PERCENT",
        "5",
        "Largest share, in percent of a table's live rows, that one step deletes or marks deleted "
        "(both delete-removed-documents steps, charging-import-versions' clean-up, clean's void "
        "return logs, incomplete company contacts and orphaned contacts). Over it the "
        "step fails with the counts, the table and this setting, and changes nothing, unless the "
        "run is forced (`force=true`).",
    ),
    Variable(
        "CLEAN_BATCH_ROWS",
        "1000",
        "Most rows one statement of the clean job deletes (and empty bill runs one batch takes): "
        "each batch is its own short transaction, so a large backlog never holds a long lock. "
        "Between 1 and 100000.",
    ),
    Variable("NALD_DOWNLOAD_TIMEOUT_S", "300", "Longest wait for the object store to answer or send more data."),
    Variable(
        "WORK_DIR",
        None,
        "Where the extract is downloaded and `NALD.zip` unpacked (a private `nald-*` folder per "
        "run, locked while the run works and removed after; a killed run's folder is removed by the"
        " next run). Needs room for the extract and its inner zip. Default: the system's temporary "
        "folder.",
    ),
    Variable(
        "S3_ENDPOINT_URL", None, "Endpoint of an S3-compatible store (MinIO, or the tests' moto server); unset: AWS S3."
    ),
    Variable("S3_REGION", "eu-west-2", "Region of the object store."),
    Variable(
        "SERVICE_BUCKET",
        None,
        "Bucket holding the water service's CSV files (the legacy `S3_BUCKET`; `wabs3-maintenance` "
        "in production). A sync run fails at once without it (or `WRLS_SERVICE_LOCAL_DIR`). "
        "Credentials as for `WRLS_NALD_BUCKET`.",
    ),
    Variable(
        "SERVICE_LOCAL_DIR",
        None,
        "Read the CSV files from `<dir>/<key>` instead of the bucket (the embedded default does, with sample files).",
    ),
    Variable(
        "CHARGE_CATEGORIES_KEY",
        "billing-metadata/charge-categories.csv",
        "Key of the charge categories file in `WRLS_SERVICE_BUCKET`.",
    ),
    Variable(
        "GAUGING_STATIONS_KEY",
        "gauging-stations/gauging-stations.csv",
        "Key of the gauging stations file in `WRLS_SERVICE_BUCKET`.",
    ),
    Variable(
        "NALD_WAIT_S",
        "3600",
        "Longest wait of a job that reads `import` (`charging-import-data`, `licence-import`, "
        "`charging-import-versions`, `bill-runs-import`), counted from its run's start, for a NALD "
        "import still loading the extract; then the run fails. At most `14400` (4 hours).",
    ),
    Variable(
        "NOTIFY_API_KEY",
        None,
        "GOV.UK Notify API key, `<name>-<service id>-<secret>`. Secret: never logged, masked in "
        "`repr`. A run of a job that emails fails at once without it.",
    ),
    Variable(
        "NOTIFY_BASE_URL",
        "https://api.notifications.service.gov.uk",
        "GOV.UK Notify's API (the tests point it at a fake).",
    ),
    Variable(
        "NOTIFY_RATE_LIMIT",
        "3000",
        "Most notifications sent per `WRLS_NOTIFY_RATE_WINDOW_S`, all workers together "
        "(send-message; Notify allows 3,000 a minute).",
    ),
    Variable("NOTIFY_RATE_WINDOW_S", "60", "The window of `WRLS_NOTIFY_RATE_LIMIT`, in seconds."),
    Variable("NOTIFY_STATUS_CHECKS", "500", "Most notification statuses one check-status tick asks Notify for."),
    Variable(
        "TRACKER_TEMPLATE_ID",
        "c34d1b16-694b-4364-8e7e-83e9dbd34a62",
        "Notify email template of the tracker's report (the legacy `service_status_alert`; its one "
        "field is `((content))`).",
    ),
    Variable(
        "TRACKER_RECIPIENT",
        None,
        "Who gets the tracker's report (the legacy `WATER_SERVICE_MAILBOX`: the product owner and "
        "delivery manager). A tracker run fails at once without it.",
    ),
    Variable(
        "ENVIRONMENT",
        "local",
        "Name of this environment (`dev`, `tst`, `pre`, `prd`: the legacy `ENVIRONMENT`), shown in "
        "the tracker's report.",
    ),
    Variable("CHARGING_MODULE_URL", None, "Charging Module API address (the legacy `CHARGE_MODULE_ORIGIN`)."),
    Variable(
        "CHARGING_MODULE_TOKEN_URL",
        None,
        "OAuth2 token endpoint of the Charging Module's client credentials (the legacy `<COGNITO_HOST>/oauth2/token`).",
    ),
    Variable(
        "CHARGING_MODULE_CLIENT_ID", None, "Client id for the Charging Module token (the legacy `COGNITO_USERNAME`)."
    ),
    Variable(
        "CHARGING_MODULE_CLIENT_SECRET",
        None,
        "Client secret for the Charging Module token (the legacy `COGNITO_PASSWORD`). Secret: never logged.",
    ),
    Variable(
        "CHARGING_MODULE_TIMEOUT_S", "10", "Longest wait for the Charging Module or its token endpoint to answer."
    ),
    Variable(
        "NALD_SERVICE_MAILBOX",
        None,
        "Email address told of invoice accounts whose NALD company, contact or address changed (the"
        " legacy `NALD_SERVICE_MAILBOX`).",
    ),
    Variable(
        "NALD_CHANGES_TEMPLATE_ID",
        "b5d29621-e30d-4dc8-a6eb-11ab075d7a0c",
        "Notify email template of that message (the legacy `nald_entity_changes_detected`).",
    ),
    Variable(
        "EXPORT_BUCKET",
        None,
        "Bucket the export job writes `export/<schema>.tgz` to (the legacy `AWS_MAINTENANCE_BUCKET`). An "
        "export run fails at once without it. Credentials as for `WRLS_NALD_BUCKET`.",
    ),
    # S3 refuses parts under 5 MiB (but the last); each export holds about one part in memory.
    Variable(
        "EXPORT_PART_MIB",
        "8",
        "Size in MiB of the multipart upload's parts the export streams each tarball in, between 5 "
        "(S3's smallest) and 512. An export holds about one part in memory per schema being exported.",
    ),
)


# A wait for the NALD swap runs in slices of one step attempt each (every
# attempt must end before RabbitMQ's consumer timeout), and a step has a fixed
# number of retries: jobs/shared/nald_wait.py sizes them for this bound.
NALD_WAIT_MAX_S = 4 * 3600


def _bounded(value: int, name: str, maximum: int, minimum: int = 0) -> int:
    if not minimum <= value <= maximum:
        raise ConfigurationError(f"{PREFIX}_{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _within(value: int, name: str, minimum: int, maximum: int) -> int:
    if not minimum <= value <= maximum:
        raise ConfigurationError(f"{PREFIX}_{name} must be between {minimum} and {maximum}, got {value}")
    return value


@dataclasses.dataclass(frozen=True)
class Config:
    nald_bucket: str | None
    nald_prefix: str
    nald_local_dir: Path | None
    nald_zip_password: str | None = dataclasses.field(repr=False)
    nald_max_member_bytes: int
    nald_max_ratio: int
    nald_max_shrink_percent: float
    max_delete_percent: float
    clean_batch_rows: int
    nald_download_timeout_s: float
    work_dir: Path | None
    s3_endpoint_url: str | None
    s3_region: str
    service_bucket: str | None
    service_local_dir: Path | None
    charge_categories_key: str
    gauging_stations_key: str
    nald_wait_s: int
    notify_api_key: str | None = dataclasses.field(repr=False)
    notify_base_url: str
    notify_rate_limit: int
    notify_rate_window_s: int
    notify_status_checks: int
    tracker_template_id: str
    tracker_recipient: str | None
    environment: str
    charging_module_url: str | None
    charging_module_token_url: str | None
    charging_module_client_id: str | None
    charging_module_client_secret: str | None = dataclasses.field(repr=False)
    charging_module_timeout_s: float
    nald_service_mailbox: str | None
    nald_changes_template_id: str
    export_bucket: str | None
    export_part_mib: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(f"{PREFIX}_{name}")
            if value is None:
                value = next(v.default for v in VARIABLES if v.name == name)
            return value or None

        def required(name: str) -> str:
            # Set but empty: the default is not taken, and None would reach a report or a request.
            value = get(name)
            if value is None:
                raise ConfigurationError(f"{PREFIX}_{name} must not be empty")
            return value

        def number(name: str) -> int:
            raw = get(name)
            try:
                return int(raw or "")
            except ValueError:
                raise ConfigurationError(f"{PREFIX}_{name} must be a whole number, got {raw!r}") from None

        def percent(name: str) -> float:
            raw = get(name)
            try:
                value = float(raw or "")
            except ValueError:
                raise ConfigurationError(f"{PREFIX}_{name} must be a number of percent, got {raw!r}") from None
            if not 0 <= value <= 100:
                raise ConfigurationError(f"{PREFIX}_{name} must be between 0 and 100, got {raw}")
            return value

        local = get("NALD_LOCAL_DIR")
        work = get("WORK_DIR")
        return cls(
            nald_bucket=get("NALD_BUCKET"),
            nald_prefix=(get("NALD_PREFIX") or "").strip("/"),
            nald_local_dir=Path(local) if local else None,
            nald_zip_password=get("NALD_ZIP_PASSWORD"),
            nald_max_member_bytes=number("NALD_MAX_MEMBER_BYTES"),
            nald_max_ratio=_bounded(number("NALD_MAX_RATIO"), "NALD_MAX_RATIO", 10**6),
            nald_max_shrink_percent=percent("NALD_MAX_SHRINK_PERCENT"),
            max_delete_percent=percent("MAX_DELETE_PERCENT"),
            clean_batch_rows=_bounded(number("CLEAN_BATCH_ROWS"), "CLEAN_BATCH_ROWS", 100_000, minimum=1),
            nald_download_timeout_s=number("NALD_DOWNLOAD_TIMEOUT_S"),
            work_dir=Path(work) if work else None,
            s3_endpoint_url=get("S3_ENDPOINT_URL"),
            s3_region=required("S3_REGION"),
            service_bucket=get("SERVICE_BUCKET"),
            service_local_dir=Path(service_local) if (service_local := get("SERVICE_LOCAL_DIR")) else None,
            charge_categories_key=(get("CHARGE_CATEGORIES_KEY") or "").strip("/"),
            gauging_stations_key=(get("GAUGING_STATIONS_KEY") or "").strip("/"),
            nald_wait_s=_bounded(number("NALD_WAIT_S"), "NALD_WAIT_S", NALD_WAIT_MAX_S),
            notify_api_key=get("NOTIFY_API_KEY"),
            notify_base_url=(get("NOTIFY_BASE_URL") or "").rstrip("/"),
            notify_rate_limit=_bounded(number("NOTIFY_RATE_LIMIT"), "NOTIFY_RATE_LIMIT", 10**6),
            notify_rate_window_s=_bounded(number("NOTIFY_RATE_WINDOW_S"), "NOTIFY_RATE_WINDOW_S", 3600),
            notify_status_checks=_bounded(number("NOTIFY_STATUS_CHECKS"), "NOTIFY_STATUS_CHECKS", 10**6),
            tracker_template_id=required("TRACKER_TEMPLATE_ID"),
            tracker_recipient=get("TRACKER_RECIPIENT"),
            environment=required("ENVIRONMENT"),
            charging_module_url=(get("CHARGING_MODULE_URL") or "").rstrip("/") or None,
            charging_module_token_url=get("CHARGING_MODULE_TOKEN_URL"),
            charging_module_client_id=get("CHARGING_MODULE_CLIENT_ID"),
            charging_module_client_secret=get("CHARGING_MODULE_CLIENT_SECRET"),
            charging_module_timeout_s=number("CHARGING_MODULE_TIMEOUT_S"),
            nald_service_mailbox=get("NALD_SERVICE_MAILBOX"),
            nald_changes_template_id=required("NALD_CHANGES_TEMPLATE_ID"),
            export_bucket=get("EXPORT_BUCKET"),
            export_part_mib=_within(number("EXPORT_PART_MIB"), "EXPORT_PART_MIB", 5, 512),
        )

    @property
    def nald_key(self) -> str:
        return f"{self.nald_prefix}/nald_enc.zip" if self.nald_prefix else "nald_enc.zip"


@lru_cache(maxsize=1)
def config() -> Config:
    return Config.from_env()
