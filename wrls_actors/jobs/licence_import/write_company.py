"""The writes of import-company: one party's rows in ``crm_v2``.

Every write is a batch upsert (one statement per table, rows as arrays)
that changes a row only when a value differs, so importing the same extract
twice leaves every row, ``date_updated`` included, exactly as it was.
Rows are matched as the legacy matched them (``load/connectors/queries.js``):
companies, addresses and contacts on ``external_id``, invoice accounts on
their number, the others on their table's unique key; on a match the
columns the legacy updated are updated. References are resolved in SQL from
external ids and role names, as the legacy did, so each statement sees the
rows the ones before it wrote.

A row already as it should be is skipped before the upsert (``NOT EXISTS``
a row alike), not merely left unchanged by it: ``ON CONFLICT DO UPDATE``
locks the row it matches even when its ``WHERE`` declines, and writes the
lock to the WAL, so over an unchanged extract every company would lock its
shared agents and addresses in turn and flush the WAL at its commit. Skipped,
a nightly run that changes nothing writes nothing (measured, 31,302 parties,
8 threads: 1,300 companies/s instead of 1,080, commits 1.5 ms instead of
2.5-3). The ``ON CONFLICT`` clause still settles a row written by another
company's transaction meanwhile.

Rows go in a fixed order within a statement (external id, numerically) and
the statements always in the order of :data:`STATEMENTS`, so two companies
sharing an address or an agent lock those rows in the same order and cannot
deadlock.

The statements are prepared on each database connection (afresh from
time to time, see :func:`_prepare`) and one company's are
sent in one round trip: parsing and planning seven statements cost more than
running them (measured, one thread: 2.9 ms a company as separate statements,
0.8 ms prepared).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from .company_transforms import ROLES, Company, CompanyImport, party_key

ENSURE_ROLES = text("""
    INSERT INTO crm_v2.roles (name) SELECT unnest(CAST(:names AS text[]))
    ON CONFLICT (name) DO NOTHING
""")


def ensure_roles(connection: Connection) -> int:
    """The crm_v2 roles the import links to (and ``additionalContact``); returns how many were created."""
    return connection.execute(ENSURE_ROLES, {"names": list(ROLES)}).rowcount


# name -> (parameter types, SQL). Every parameter is text or text[]: a list of only
# NULLs, or an empty one, has no other type, so dates are cast in the SQL.
STATEMENTS: dict[str, tuple[tuple[str, ...], str]] = {
    # The legacy's hashes are md5 of the values; its update set last_hash to the new
    # hash too (EXCLUDED.current_hash). Kept as it was: nothing in WRLS reads them.
    "companies": (
        ("text[]",) * 3,
        """
        INSERT INTO crm_v2.companies AS t (name, type, external_id, current_hash)
        SELECT n.name, n.type, n.external_id, md5(concat(n.name, n.type))
        FROM unnest($1, $2, $3) AS n (name, type, external_id)
        WHERE NOT EXISTS (SELECT FROM crm_v2.companies t WHERE t.external_id = n.external_id
                            AND (t.name, t.type, t.current_hash)
                                IS NOT DISTINCT FROM (n.name, n.type, md5(concat(n.name, n.type))))
        ON CONFLICT (external_id) DO UPDATE
          SET name = excluded.name, type = excluded.type, last_hash = excluded.current_hash,
              current_hash = excluded.current_hash, date_updated = now()
          WHERE (t.name, t.type, t.current_hash) IS DISTINCT FROM (excluded.name, excluded.type, excluded.current_hash)
    """,
    ),
    "addresses": (
        ("text[]",) * 9,
        """
        INSERT INTO crm_v2.addresses AS t (address_1, address_2, address_3, address_4, town, county, postcode,
                                           country, external_id, data_source, current_hash)
        SELECT n.a1, n.a2, n.a3, n.a4, n.town, n.county, n.postcode, n.country, n.external_id, 'nald',
               md5(concat(n.a1, n.a2, n.a3, n.a4, n.town, n.county, n.postcode))
        FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9)
             AS n (a1, a2, a3, a4, town, county, postcode, country, external_id)
        WHERE NOT EXISTS (SELECT FROM crm_v2.addresses t WHERE t.external_id = n.external_id
                            AND (t.address_1, t.address_2, t.address_3, t.address_4, t.town, t.county, t.postcode,
                                 t.country, t.current_hash)
                                IS NOT DISTINCT FROM (n.a1, n.a2, n.a3, n.a4, n.town, n.county, n.postcode, n.country,
                                                      md5(concat(n.a1, n.a2, n.a3, n.a4, n.town, n.county,
                                                                 n.postcode))))
        ON CONFLICT (external_id) DO UPDATE
          SET address_1 = excluded.address_1, address_2 = excluded.address_2, address_3 = excluded.address_3,
              address_4 = excluded.address_4, town = excluded.town, county = excluded.county,
              postcode = excluded.postcode, country = excluded.country, last_hash = excluded.current_hash,
              current_hash = excluded.current_hash, date_updated = now()
          WHERE (t.address_1, t.address_2, t.address_3, t.address_4, t.town, t.county, t.postcode, t.country,
                 t.current_hash)
                IS DISTINCT FROM (excluded.address_1, excluded.address_2, excluded.address_3, excluded.address_4,
                                  excluded.town, excluded.county, excluded.postcode, excluded.country,
                                  excluded.current_hash)
    """,
    ),
    "contact": (
        ("text",) * 5,
        """
        INSERT INTO crm_v2.contacts AS t (salutation, initials, first_name, last_name, external_id, data_source,
                                          current_hash)
        SELECT $1, $2, $3, $4, $5, 'nald', md5(concat($1, $3, $4))
        WHERE NOT EXISTS (SELECT FROM crm_v2.contacts t WHERE t.external_id = $5
                            AND (t.salutation, t.initials, t.first_name, t.last_name, t.current_hash)
                                IS NOT DISTINCT FROM ($1, $2, $3, $4, md5(concat($1, $3, $4))))
        ON CONFLICT (external_id) DO UPDATE
          SET salutation = excluded.salutation, initials = excluded.initials, first_name = excluded.first_name,
              last_name = excluded.last_name, last_hash = excluded.current_hash,
              current_hash = excluded.current_hash, date_updated = now()
          WHERE (t.salutation, t.initials, t.first_name, t.last_name, t.current_hash)
                IS DISTINCT FROM (excluded.salutation, excluded.initials, excluded.first_name, excluded.last_name,
                                  excluded.current_hash)
    """,
    ),
    "invoice_accounts": (
        ("text", "text[]", "text[]", "text[]"),
        """
        INSERT INTO crm_v2.invoice_accounts AS t (company_id, invoice_account_number, start_date, end_date)
        SELECT c.company_id, n.number, n.start_date, n.end_date
        FROM unnest($2, CAST($3 AS date[]), CAST($4 AS date[])) AS n (number, start_date, end_date)
        JOIN crm_v2.companies c ON c.external_id = $1
        WHERE NOT EXISTS (SELECT FROM crm_v2.invoice_accounts t WHERE t.invoice_account_number = n.number
                            AND (t.company_id, t.start_date, t.end_date)
                                IS NOT DISTINCT FROM (c.company_id, n.start_date, n.end_date))
        ON CONFLICT (invoice_account_number) DO UPDATE
          SET company_id = excluded.company_id, start_date = excluded.start_date, end_date = excluded.end_date,
              date_updated = now()
          WHERE (t.company_id, t.start_date, t.end_date)
                IS DISTINCT FROM (excluded.company_id, excluded.start_date, excluded.end_date)
    """,
    ),
    # On a match the legacy changed the address and agent only: the end date stays
    # (WRLS users end an account's address when they give it a new one).
    "invoice_account_addresses": (
        ("text[]",) * 5,
        """
        INSERT INTO crm_v2.invoice_account_addresses AS t (invoice_account_id, address_id, start_date, end_date,
                                                           agent_company_id)
        SELECT ia.invoice_account_id, a.address_id, n.start_date, n.end_date, agent.company_id
        FROM unnest($1, $2, CAST($3 AS date[]), CAST($4 AS date[]), $5)
             AS n (number, address, start_date, end_date, agent)
        JOIN crm_v2.invoice_accounts ia ON ia.invoice_account_number = n.number
        JOIN crm_v2.addresses a ON a.external_id = n.address
        LEFT JOIN crm_v2.companies agent ON agent.external_id = n.agent
        WHERE NOT EXISTS (SELECT FROM crm_v2.invoice_account_addresses t
                          WHERE t.invoice_account_id = ia.invoice_account_id AND t.start_date = n.start_date
                            AND (t.address_id, t.agent_company_id) IS NOT DISTINCT FROM (a.address_id, agent.company_id))
        ON CONFLICT (invoice_account_id, start_date) DO UPDATE
          SET address_id = excluded.address_id, agent_company_id = excluded.agent_company_id, date_updated = now()
          WHERE (t.address_id, t.agent_company_id) IS DISTINCT FROM (excluded.address_id, excluded.agent_company_id)
    """,
    ),
    "company_contacts": (
        ("text", "text[]", "text[]", "text[]", "text[]"),
        """
        INSERT INTO crm_v2.company_contacts AS t (company_id, contact_id, role_id, start_date, end_date,
                                                  is_default)
        SELECT c.company_id, o.contact_id, r.role_id, n.start_date, n.end_date, true
        FROM unnest($2, $3, CAST($4 AS date[]), CAST($5 AS date[])) AS n (role, contact, start_date, end_date)
        JOIN crm_v2.companies c ON c.external_id = $1
        JOIN crm_v2.contacts o ON o.external_id = n.contact
        JOIN crm_v2.roles r ON r.name = n.role
        WHERE NOT EXISTS (SELECT FROM crm_v2.company_contacts t
                          WHERE (t.company_id, t.contact_id, t.role_id, t.start_date)
                                = (c.company_id, o.contact_id, r.role_id, n.start_date)
                            AND t.is_default AND t.end_date IS NOT DISTINCT FROM n.end_date)
        ON CONFLICT (company_id, contact_id, role_id, start_date) DO UPDATE
          SET is_default = excluded.is_default, end_date = excluded.end_date, date_updated = now()
          WHERE (t.is_default, t.end_date) IS DISTINCT FROM (excluded.is_default, excluded.end_date)
    """,
    ),
    # As in the legacy, a match keeps its start date.
    "company_addresses": (
        ("text", "text[]", "text[]", "text[]", "text[]"),
        """
        INSERT INTO crm_v2.company_addresses AS t (company_id, address_id, role_id, start_date, end_date,
                                                   is_default)
        SELECT c.company_id, a.address_id, r.role_id, n.start_date, n.end_date, true
        FROM unnest($2, $3, CAST($4 AS date[]), CAST($5 AS date[])) AS n (role, address, start_date, end_date)
        JOIN crm_v2.companies c ON c.external_id = $1
        JOIN crm_v2.addresses a ON a.external_id = n.address
        JOIN crm_v2.roles r ON r.name = n.role
        WHERE NOT EXISTS (SELECT FROM crm_v2.company_addresses t
                          WHERE (t.company_id, t.address_id, t.role_id) = (c.company_id, a.address_id, r.role_id)
                            AND t.is_default AND t.end_date IS NOT DISTINCT FROM n.end_date)
        ON CONFLICT (company_id, address_id, role_id) DO UPDATE
          SET is_default = excluded.is_default, end_date = excluded.end_date, date_updated = now()
          WHERE (t.is_default, t.end_date) IS DISTINCT FROM (excluded.is_default, excluded.end_date)
    """,
    ),
}


def _prepared_name(name: str) -> str:
    return f"crm_v2_company_{name}"


def _companies(companies: list[Company]) -> list:
    return [[c.name for c in companies], [c.type for c in companies], [c.external_id for c in companies]]


def _dates(values) -> list:
    return [None if v is None else v.isoformat() for v in values]


def statements(data: CompanyImport) -> list[tuple[str, list]]:
    """(statement, parameters) of one company's writes, in the order of :data:`STATEMENTS`, none without rows."""
    company = data.company.external_id
    out = [("companies", _companies(sorted((data.company, *data.agents), key=lambda c: party_key(c.external_id))))]
    if data.addresses:
        a = data.addresses
        out.append(
            (
                "addresses",
                [
                    [x.address_1 for x in a],
                    [x.address_2 for x in a],
                    [x.address_3 for x in a],
                    [x.address_4 for x in a],
                    [x.town for x in a],
                    [x.county for x in a],
                    [x.postcode for x in a],
                    [x.country for x in a],
                    [x.external_id for x in a],
                ],
            )
        )
    if data.contact is not None:
        c = data.contact
        out.append(("contact", [c.salutation, c.initials, c.first_name, c.last_name, c.external_id]))
    if data.invoice_accounts:
        accounts = data.invoice_accounts
        out.append(
            (
                "invoice_accounts",
                [
                    company,
                    [x.number for x in accounts],
                    _dates(x.start_date for x in accounts),
                    _dates(x.end_date for x in accounts),
                ],
            )
        )
        rows = [(account.number, a) for account in accounts for a in account.addresses]
        if rows:
            out.append(
                (
                    "invoice_account_addresses",
                    [
                        [n for n, _ in rows],
                        [a.address for _, a in rows],
                        _dates(a.start_date for _, a in rows),
                        _dates(a.end_date for _, a in rows),
                        [a.agent_company for _, a in rows],
                    ],
                )
            )
    for name, links in (("company_contacts", data.company_contacts), ("company_addresses", data.company_addresses)):
        if links:
            out.append(
                (
                    name,
                    [
                        company,
                        [x.role for x in links],
                        [x.target for x in links],
                        _dates(x.start_date for x in links),
                        _dates(x.end_date for x in links),
                    ],
                )
            )
    return out


# A connection's statements are prepared afresh after these many companies, then every REPLAN_EVERY.
REPLAN_AT = (16, 64, 256)
REPLAN_EVERY = 1024


def replan_due(before: int, after: int) -> bool:
    """Whether the ``before``-th to ``after - 1``-th companies written on a connection (from 0) pass a point
    to prepare afresh: one of REPLAN_AT, or a multiple of REPLAN_EVERY."""
    if any(before <= at < after for at in REPLAN_AT):
        return True
    return max(REPLAN_EVERY, -(-before // REPLAN_EVERY) * REPLAN_EVERY) < after


def _prepare(connection: Connection, companies: int) -> None:
    """Prepare the statements on this database connection, and afresh from time to time (:func:`replan_due`).

    A prepared statement keeps its generic plan until the statistics of its
    tables change. Planned while crm_v2 was empty (the first import), that
    plan scans whole tables, and where nothing ANALYZEs them (autovacuum off,
    as on the test and bench server) it is kept as they grow: measured, one
    thread, 30,000 companies, 1.4 ms a company instead of 0.8, and worse the
    bigger the tables. Preparing afresh, more often while the tables are
    small, plans for the tables as they are (bench/licence_import.py, 20,000
    licences, 31,302 parties, 2 processes x 8 threads, into an empty crm_v2:
    import-company 172 s when prepared afresh every 1,000 only, 74 s so).
    """
    info = connection.connection.info
    prepared = info.setdefault("prepared", set())
    before = info.get("company_writes", 0)
    info["company_writes"] = before + companies
    replan = replan_due(before, before + companies)
    for name, (types, sql) in STATEMENTS.items():
        key = _prepared_name(name)
        if key in prepared and replan:
            connection.exec_driver_sql(f"DEALLOCATE {key}")
            prepared.discard(key)
        if key not in prepared:
            connection.exec_driver_sql(f"PREPARE {key} ({', '.join(types)}) AS {sql}")
            prepared.add(key)


def write_companies(connection: Connection, companies: Sequence[CompanyImport]) -> None:
    """Upsert everything of some companies, in their order, in one round trip (a statement per table
    and company: 0.33 ms a company where a round trip each took 0.73, one connection)."""
    if not companies:
        return
    _prepare(connection, len(companies))
    calls, params = [], []
    for data in companies:
        for name, values in statements(data):
            calls.append(f"EXECUTE {_prepared_name(name)} ({', '.join(['%s'] * len(values))})")
            params.extend(values)
    connection.exec_driver_sql("; ".join(calls), tuple(params))
