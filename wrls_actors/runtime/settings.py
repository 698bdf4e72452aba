"""Runtime settings, read once from the environment.

Every variable is ``<PREFIX>_<NAME>``; the application chooses the prefix
(``WRLS`` for this service). Secrets (passwords inside URLs) are masked in
``repr`` and in every log line.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from .definitions import MAX_CHUNK
from .errors import ConfigurationError


def mask_url(url: str | None) -> str | None:
    """Return ``url`` with any password replaced by ``***`` (in each URL of a comma-separated list)."""
    if not url:
        return url
    return ",".join(_mask_one(one) for one in url.split(","))


def _mask_one(url: str) -> str:
    # Read on the raw text, not by urlsplit: a password with an unencoded '/', '?', '#' or ',' would end
    # urlsplit's netloc early and be shown whole; everything before the last '@' is taken as credentials.
    scheme, separator, rest = url.partition("://")
    at = rest.rfind("@") if separator else url.rfind("@")
    if not separator:
        # A piece of a list split inside a password: only what follows its '@' is shown.
        return "***" + url[at:] if at >= 0 else url
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        return f"{scheme}://{user}{':***' if colon else ''}@{rest[at + 1 :]}"
    try:
        _ = urlsplit(url).port
    except ValueError:
        # No '@' but a port that is no number: perhaps 'user:part-of-a-password'; nothing is shown.
        return f"{scheme}://***"
    return url


def split_urls(value: str | None) -> tuple[str, ...]:
    """The URLs of a comma-separated list, blanks dropped."""
    return tuple(u.strip() for u in (value or "").split(",") if u.strip())


QUEUE_TYPES = ("classic", "quorum")


def _broker_urls(prefix: str, value: str) -> str:
    """The list checked URL by URL (scheme, host, one vhost for all), naming the one refused; rejoined without blanks."""
    urls = split_urls(value)
    if not urls:
        raise ConfigurationError(f"{prefix}_BROKER_URL holds no URL")
    vhosts = set()
    for number, url in enumerate(urls, 1):
        where = f"{prefix}_BROKER_URL URL {number} of {len(urls)} ({_mask_one(url)})"
        try:
            parts = urlsplit(url)
            _ = parts.port  # raises ValueError on a port that is no number
        except ValueError:
            raise ConfigurationError(f"{where} is not a URL (its port must be a number)") from None
        if parts.scheme not in ("amqp", "amqps"):
            raise ConfigurationError(f"{where} must start with amqp:// or amqps://")
        if not parts.hostname:
            raise ConfigurationError(f"{where} names no host")
        vhosts.add(unquote(parts.path[1:]) if len(parts.path) > 1 else "/")
    if len(vhosts) > 1:
        raise ConfigurationError(
            f"{prefix}_BROKER_URL: its URLs name different virtual hosts ({', '.join(sorted(vhosts))}); "
            "they must be nodes of one broker, with one virtual host"
        )
    return ",".join(urls)


@dataclasses.dataclass(frozen=True)
class Variable:
    """One documented environment variable."""

    name: str
    default: str | None
    help: str


# The single list of variables the runtime reads: the configuration docs are
# generated from it and the compose file is checked against it, so nothing goes
# undocumented.
VARIABLES: tuple[Variable, ...] = (
    Variable(
        "BROKER_URL",
        None,
        "RabbitMQ URL (`amqp://user:pass@host:5672/vhost`), or several separated by commas (the nodes of a "
        "cluster, one virtual host): each process connects to the first that answers, and again to the first "
        "that answers when its connection dies. Unset together with `WRLS_DATABASE_URL`: embedded default. "
        "Setting only one of the two is refused.",
    ),
    Variable(
        "RABBITMQ_QUEUE_TYPE",
        "classic",
        "`classic`, or `quorum`: replicated queues for a cluster, with RabbitMQ's own delivery limit "
        "(`WRLS_MAX_DELIVERIES`) behind the ledger's. A queue's type cannot change: a service whose queues "
        "exist with the other type refuses to start, naming them "
        "([docs/runtime.md](runtime.md#queue-types-classic-or-quorum)).",
    ),
    Variable("DATABASE_URL", None, "PostgreSQL URL (`postgresql://user@host:5432/db`)."),
    Variable(
        "RABBITMQ_MANAGEMENT_URL",
        None,
        "RabbitMQ management API, read by the exporter for queue depths. Default: the host of the "
        "first `WRLS_BROKER_URL`, port 15672, the same credentials.",
    ),
    Variable(
        "RABBITMQ_CONSUMER_TIMEOUT_S",
        "1800",
        "RabbitMQ's `consumer_timeout`, in seconds: every step time limit and retry backoff must "
        "stay below it, or the service refuses to start (naming the actor). Keep it equal to the "
        "broker's setting (`config/rabbitmq/rabbitmq.conf`).",
    ),
    Variable("EMBEDDED_DIR", ".wrls", "Folder of the embedded default's PostgreSQL."),
    Variable("WORKER_PROCESSES", "2", "Worker processes started by `worker` and `run`."),
    Variable("WORKER_THREADS", "8", "Threads per worker process."),
    Variable("HEARTBEAT_S", "5", "How often a worker process records a heartbeat for its running steps."),
    Variable("STALL_AFTER_S", "60", "A running step with no heartbeat for this long is marked stalled."),
    Variable(
        "STALL_GRACE_S",
        "30",
        "A step still running this long past its time limit is marked stalled (hung in a blocking call).",
    ),
    Variable("SWEEP_S", "5", "How often worker processes look for stalled steps."),
    Variable(
        "MAX_DELIVERIES",
        "3",
        "A message whose recorded starts without finishing exceed this (it kills or hangs its "
        "worker) is dead-lettered. On quorum queues also their `x-delivery-limit`, so changing it means "
        "declaring the queues again.",
    ),
    Variable(
        "MAX_MESSAGE_BYTES",
        "262144",
        "Largest message body accepted; a larger one is dead-lettered before it is parsed.",
    ),
    Variable(
        "MESSAGE_KEY",
        None,
        "Secret: the key (at least 32 characters) signing the messages steps and schedules send each "
        "other; required with `BROKER_URL`, random in the embedded default.",
    ),
    Variable(
        "MESSAGE_KEY_PREVIOUS",
        None,
        "Secret: the message key before the last rotation; messages it signed are still accepted.",
    ),
    Variable(
        "LEDGER_FLUSH_MS", "100", "Longest time a step event waits in memory before the ledger writer flushes it."
    ),
    Variable(
        "LEDGER_RETENTION_DAYS",
        "90",
        "Days the ledger keeps runs, steps, events and ticks (at least 7): the `ledger-retention` job "
        "drops each week of them once its end is this old, except a week holding a run still going.",
    ),
    Variable(
        "LEDGER_FAILURE_RETENTION_DAYS",
        "400",
        "Days failed runs, their failed steps and their events are kept in the archive (at least "
        "`WRLS_LEDGER_RETENTION_DAYS`).",
    ),
    Variable(
        "CHUNK_LIMIT",
        "1000",
        "Most items a chunked fan-out puts in one child message (1 to 1000); a step that declares fewer "
        "keeps its own. Lower it when a chunk does not end within its step's time limit; `1` sends each "
        "item alone (a benchmark's baseline). Read where the fan-out is sent: a worker's.",
    ),
    Variable("TIMEZONE", "Europe/London", "Time zone of every schedule."),
    Variable(
        "LATE_AFTER_S", "60", "A tick handled this long after its nominal time is recorded as `late` (and still run)."
    ),
    Variable(
        "MISSED_AFTER_S", "120", "A tick nobody claimed this long after its nominal time is recorded as `missed`."
    ),
    Variable("CATCHUP_WINDOW_H", "24", "How far back the scheduler looks for missed ticks."),
    Variable("METRICS_HOST", "127.0.0.1", "Address of the exporter."),
    Variable("METRICS_PORT", "9191", "Port of the exporter (`/metrics`, `/healthz`)."),
    Variable(
        "API_HOST",
        "127.0.0.1",
        "Address of the HTTP API (`0.0.0.0` to take calls from other machines). The embedded default "
        "without `API_JWT_SECRET` listens on 127.0.0.1 whatever this says.",
    ),
    Variable("API_PORT", "8007", "Port of the HTTP API (the legacy import app's port)."),
    Variable(
        "API_JWT_SECRET",
        None,
        "Secret: the HS256 key of the bearer tokens the HTTP API accepts (at least 32 characters). "
        "Required for `api` and `run` with a broker; without it the embedded default serves the "
        "API on 127.0.0.1 with no authentication.",
    ),
    Variable(
        "API_OPEN_JOB_ROUTES",
        "false",
        "`true` answers the legacy system app's `/jobs/*` routes without a token, as the legacy did "
        "(logged as a warning at start). Every other route keeps its authentication.",
    ),
    Variable(
        "API_TRUSTED_PROXIES",
        None,
        "Comma-separated addresses (or networks) of the reverse proxies in front of the API whose `X-Forwarded-For` and "
        "`X-Forwarded-Proto` are believed (the caller's address for the sign-in limit, HTTPS for the console's "
        "Secure cookie). Unset (the default): no forwarded header is believed.",
    ),
    Variable(
        "CONSOLE_USER_HEADER",
        None,
        "The request header an authenticating proxy in front of the console sets to the signed-in user's name "
        "(e.g. `X-Forwarded-User`). Unset (the default): no header is trusted and operators sign in with a "
        "password. The name must still be an account (`wrls-actors user add`), whose role applies.",
    ),
    Variable(
        "LOG_FORMAT",
        "text",
        "`text`, or `json`: one object per line, with `run_id`, `message_id`, `actor` and, on step "
        "lines, `duration_ms` and `counts`.",
    ),
    Variable("LOG_LEVEL", "INFO", "Python log level."),
    Variable(
        "SCHEDULE_<JOB>",
        None,
        "Change one schedule without a code change: a cron expression, `every 15s`, or `off`. "
        "`<JOB>` is the job name upper-cased with `_` for `-` (`WRLS_SCHEDULE_CHECK_STATUS=every "
        "30s`). An unknown name is refused.",
    ),
)


MIN_KEY_CHARS = 32
MIN_RETENTION_DAYS = 7


def _int(env: Mapping[str, str], prefix: str, name: str) -> int:
    raw = env.get(f"{prefix}_{name}")
    if raw is None:
        raw = next(v.default for v in VARIABLES if v.name == name)
    try:
        return int(raw or "")
    except ValueError:
        raise ConfigurationError(f"{prefix}_{name} must be a whole number, got {raw!r}") from None


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the runtime needs to know about its surroundings."""

    prefix: str
    broker_url: str | None
    database_url: str | None
    management_url: str | None
    consumer_timeout_s: int
    embedded_dir: str
    worker_processes: int
    worker_threads: int
    heartbeat_s: int
    stall_after_s: int
    stall_grace_s: int
    sweep_s: int
    max_deliveries: int
    ledger_flush_ms: int
    timezone: str
    late_after_s: int
    missed_after_s: int
    catchup_window_h: int
    metrics_host: str
    metrics_port: int
    log_format: str
    log_level: str
    schedule_overrides: Mapping[str, str]
    max_message_bytes: int = 256 * 1024
    message_key: str = dataclasses.field(default="", repr=False)
    message_key_previous: str | None = dataclasses.field(default=None, repr=False)
    api_host: str = "127.0.0.1"
    api_port: int = 8007
    api_jwt_secret: str | None = dataclasses.field(default=None, repr=False)
    api_open_job_routes: bool = False
    console_user_header: str | None = None
    api_trusted_proxies: tuple[str, ...] = ()
    queue_type: str = "classic"
    ledger_retention_days: int = 90
    ledger_failure_retention_days: int = 400
    chunk_limit: int = MAX_CHUNK

    @property
    def broker_urls(self) -> tuple[str, ...]:
        """Every node's URL of ``broker_url``, in the order given."""
        return split_urls(self.broker_url)

    @property
    def embedded(self) -> bool:
        return self.broker_url is None and self.database_url is None

    @classmethod
    def from_env(cls, prefix: str = "WRLS", env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        broker_url = env.get(f"{prefix}_BROKER_URL") or None
        database_url = env.get(f"{prefix}_DATABASE_URL") or None
        if (broker_url is None) != (database_url is None):
            missing = f"{prefix}_BROKER_URL" if broker_url is None else f"{prefix}_DATABASE_URL"
            raise ConfigurationError(
                f"{missing} is not set: set both {prefix}_BROKER_URL and {prefix}_DATABASE_URL, "
                "or neither for the embedded default"
            )
        if broker_url is not None:
            broker_url = _broker_urls(prefix, broker_url)
        queue_type = (env.get(f"{prefix}_RABBITMQ_QUEUE_TYPE") or "classic").strip().lower()
        if queue_type not in QUEUE_TYPES:
            raise ConfigurationError(
                f"{prefix}_RABBITMQ_QUEUE_TYPE must be {' or '.join(QUEUE_TYPES)}, got {queue_type!r}"
            )
        log_format = env.get(f"{prefix}_LOG_FORMAT", "text")
        if log_format not in ("text", "json"):
            raise ConfigurationError(f"{prefix}_LOG_FORMAT must be text or json, got {log_format!r}")
        message_key = env.get(f"{prefix}_MESSAGE_KEY") or None
        previous_key = env.get(f"{prefix}_MESSAGE_KEY_PREVIOUS") or None
        if message_key is None and broker_url is None:
            # The embedded default's messages never leave its process.
            message_key = secrets.token_urlsafe(32)
        for name, key in (("MESSAGE_KEY", message_key), ("MESSAGE_KEY_PREVIOUS", previous_key)):
            if name == "MESSAGE_KEY" and key is None:
                raise ConfigurationError(
                    f"{prefix}_MESSAGE_KEY is not set: a broker needs a secret of at least "
                    f"{MIN_KEY_CHARS} characters to sign the service's own messages"
                )
            if key is not None and len(key) < MIN_KEY_CHARS:
                raise ConfigurationError(
                    f"{prefix}_{name} is too short: it must have at least {MIN_KEY_CHARS} characters, it has {len(key)}"
                )
        api_secret = env.get(f"{prefix}_API_JWT_SECRET") or None
        if api_secret is not None and len(api_secret) < MIN_KEY_CHARS:
            raise ConfigurationError(
                f"{prefix}_API_JWT_SECRET is too short: it must have at least {MIN_KEY_CHARS} characters, "
                f"it has {len(api_secret)}"
            )
        open_routes = env.get(f"{prefix}_API_OPEN_JOB_ROUTES", "false").strip().lower()
        if open_routes not in ("true", "false"):
            raise ConfigurationError(f"{prefix}_API_OPEN_JOB_ROUTES must be true or false, got {open_routes!r}")
        user_header = (env.get(f"{prefix}_CONSOLE_USER_HEADER") or "").strip() or None
        if user_header is not None and not re.fullmatch(r"[A-Za-z0-9-]{1,100}", user_header):
            raise ConfigurationError(
                f"{prefix}_CONSOLE_USER_HEADER must be a header name (letters, digits and -), got {user_header!r}"
            )
        proxies = tuple(p.strip() for p in (env.get(f"{prefix}_API_TRUSTED_PROXIES") or "").split(",") if p.strip())
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigurationError(
                    f"{prefix}_API_TRUSTED_PROXIES: {proxy!r} is not an IP address or network"
                ) from None
        retention_days = _int(env, prefix, "LEDGER_RETENTION_DAYS")
        if retention_days < MIN_RETENTION_DAYS:
            raise ConfigurationError(
                f"{prefix}_LEDGER_RETENTION_DAYS must be at least {MIN_RETENTION_DAYS} (a week is the ledger's "
                f"partition), got {retention_days}"
            )
        failure_days = _int(env, prefix, "LEDGER_FAILURE_RETENTION_DAYS")
        if failure_days < retention_days:
            raise ConfigurationError(
                f"{prefix}_LEDGER_FAILURE_RETENTION_DAYS must be at least {prefix}_LEDGER_RETENTION_DAYS "
                f"({retention_days}): a failure is kept at least as long as the rest, got {failure_days}"
            )
        chunk_limit = _int(env, prefix, "CHUNK_LIMIT")
        if not 1 <= chunk_limit <= MAX_CHUNK:
            raise ConfigurationError(f"{prefix}_CHUNK_LIMIT must be 1 to {MAX_CHUNK}, got {chunk_limit}")
        pattern = re.compile(rf"^{prefix}_SCHEDULE_([A-Z0-9_]+)$")
        overrides = {
            m.group(1).lower().replace("_", "-"): value for key, value in env.items() if (m := pattern.match(key))
        }
        return cls(
            prefix=prefix,
            broker_url=broker_url,
            database_url=database_url,
            management_url=env.get(f"{prefix}_RABBITMQ_MANAGEMENT_URL") or None,
            consumer_timeout_s=_int(env, prefix, "RABBITMQ_CONSUMER_TIMEOUT_S"),
            embedded_dir=env.get(f"{prefix}_EMBEDDED_DIR", ".wrls"),
            worker_processes=_int(env, prefix, "WORKER_PROCESSES"),
            worker_threads=_int(env, prefix, "WORKER_THREADS"),
            heartbeat_s=_int(env, prefix, "HEARTBEAT_S"),
            stall_after_s=_int(env, prefix, "STALL_AFTER_S"),
            stall_grace_s=_int(env, prefix, "STALL_GRACE_S"),
            sweep_s=_int(env, prefix, "SWEEP_S"),
            max_deliveries=_int(env, prefix, "MAX_DELIVERIES"),
            ledger_flush_ms=_int(env, prefix, "LEDGER_FLUSH_MS"),
            timezone=env.get(f"{prefix}_TIMEZONE", "Europe/London"),
            late_after_s=_int(env, prefix, "LATE_AFTER_S"),
            missed_after_s=_int(env, prefix, "MISSED_AFTER_S"),
            catchup_window_h=_int(env, prefix, "CATCHUP_WINDOW_H"),
            metrics_host=env.get(f"{prefix}_METRICS_HOST", "127.0.0.1"),
            metrics_port=_int(env, prefix, "METRICS_PORT"),
            log_format=log_format,
            log_level=env.get(f"{prefix}_LOG_LEVEL", "INFO").upper(),
            schedule_overrides=overrides,
            max_message_bytes=_int(env, prefix, "MAX_MESSAGE_BYTES"),
            message_key=message_key or "",
            message_key_previous=previous_key,
            api_host=env.get(f"{prefix}_API_HOST", "127.0.0.1"),
            api_port=_int(env, prefix, "API_PORT"),
            api_jwt_secret=api_secret,
            api_open_job_routes=open_routes == "true",
            console_user_header=user_header.lower() if user_header else None,
            api_trusted_proxies=proxies,
            queue_type=queue_type,
            ledger_retention_days=retention_days,
            ledger_failure_retention_days=failure_days,
            chunk_limit=chunk_limit,
        )

    def with_urls(self, broker_url: str | None, database_url: str | None) -> Settings:
        return dataclasses.replace(self, broker_url=broker_url, database_url=database_url)

    def __repr__(self) -> str:
        return (
            f"Settings(prefix={self.prefix!r}, broker_url={mask_url(self.broker_url)!r}, "
            f"database_url={mask_url(self.database_url)!r}, embedded={self.embedded})"
        )
