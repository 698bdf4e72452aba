"""Step reference-data: financial agreement types, purposes (primary, secondary, use) and their
valid combinations, in one transaction.

Legacy ``src/modules/charging-import/lib/queries/financial-agreement-types.js``
and ``purposes.js``. The tables hold a few hundred
rows: they are read whole, mapped by ``mapping.py`` and written with one
batched upsert each, which changes a row only when a value differs (the
legacy rewrote every row, ``date_updated`` included, every night).

Valid combinations are only ever added, as in the legacy: WRLS rows may refer
to a combination NALD has since disabled.
"""

from __future__ import annotations

from sqlalchemy import Connection, TextClause, text

from ...runtime import StepContext
from . import mapping

UPSERT_FINANCIAL_AGREEMENT_TYPES = text("""
    INSERT INTO water.financial_agreement_types AS t (financial_agreement_code, description, disabled)
    SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:descriptions AS text[]), CAST(:disabled AS boolean[]))
    ON CONFLICT (financial_agreement_code) DO UPDATE
      SET description = excluded.description, disabled = excluded.disabled, date_updated = now()
      WHERE (t.description, t.disabled) IS DISTINCT FROM (excluded.description, excluded.disabled)
""")


def _upsert_purposes(table: str) -> TextClause:
    return text(f"""
        INSERT INTO water.{table} AS t (legacy_id, description)
        SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:descriptions AS text[]))
        ON CONFLICT (legacy_id) DO UPDATE SET description = excluded.description, date_updated = now()
          WHERE t.description IS DISTINCT FROM excluded.description
    """)


UPSERT_USES = text("""
    INSERT INTO water.purposes_uses AS t (legacy_id, description, loss_factor, is_two_part_tariff)
    SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:descriptions AS text[]), CAST(:losses AS text[]),
                         CAST(:two_part AS boolean[]))
    ON CONFLICT (legacy_id) DO UPDATE
      SET description = excluded.description, loss_factor = excluded.loss_factor,
          is_two_part_tariff = excluded.is_two_part_tariff, date_updated = now()
      WHERE (t.description, t.loss_factor, t.is_two_part_tariff)
            IS DISTINCT FROM (excluded.description, excluded.loss_factor, excluded.is_two_part_tariff)
""")

# A combination naming a code missing from the purposes tables cannot be stored (ids, not codes).
INSERT_VALID_PURPOSES = text("""
    WITH combination AS (
        SELECT pp.purpose_primary_id, ps.purpose_secondary_id, pu.purpose_use_id
        FROM unnest(CAST(:primaries AS text[]), CAST(:secondaries AS text[]), CAST(:uses AS text[]))
             AS n (primary_code, secondary_code, use_code)
        JOIN water.purposes_primary pp ON pp.legacy_id = n.primary_code
        JOIN water.purposes_secondary ps ON ps.legacy_id = n.secondary_code
        JOIN water.purposes_uses pu ON pu.legacy_id = n.use_code
    ), written AS (
        INSERT INTO water.purposes (purpose_primary_id, purpose_secondary_id, purpose_use_id)
        SELECT * FROM combination
        ON CONFLICT (purpose_primary_id, purpose_secondary_id, purpose_use_id) DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM combination) AS known, (SELECT count(*) FROM written) AS written
""")


def _read(connection: Connection, table: str, columns: str) -> list[dict]:
    quoted = ", ".join(f'"{c}"' for c in columns.split())
    return [dict(r) for r in connection.execute(text(f'SELECT {quoted} FROM import."{table}"')).mappings()]


def reference_data(ctx: StepContext) -> None:
    unreadable: list[str] = []
    with ctx.engine.begin() as connection:
        rows, bad = mapping.map_rows(
            _read(connection, "NALD_FIN_AGRMNT_TYPES", "CODE DESCR DISABLED"), mapping.financial_agreement_type, "CODE"
        )
        unreadable += [f"NALD_FIN_AGRMNT_TYPES {b}" for b in bad]
        written = connection.execute(
            UPSERT_FINANCIAL_AGREEMENT_TYPES,
            {
                "codes": [r[0] for r in rows],
                "descriptions": [r[1] for r in rows],
                "disabled": [r[2] for r in rows],
            },
        ).rowcount
        ctx.count("financial_agreement_types", len(rows))
        ctx.count("financial_agreement_types_written", written)

        for table, target, name in (
            ("NALD_PURP_PRIMS", "purposes_primary", "purposes_primary"),
            ("NALD_PURP_SECS", "purposes_secondary", "purposes_secondary"),
        ):
            rows, bad = mapping.map_rows(_read(connection, table, "CODE DESCR"), mapping.purpose, "CODE")
            unreadable += [f"{table} {b}" for b in bad]
            written = connection.execute(
                _upsert_purposes(target), {"codes": [r[0] for r in rows], "descriptions": [r[1] for r in rows]}
            ).rowcount
            ctx.count(name, len(rows))
            ctx.count(f"{name}_written", written)

        rows, bad = mapping.map_rows(
            _read(connection, "NALD_PURP_USES", "CODE DESCR ALSF_CODE"), mapping.purpose_use, "CODE"
        )
        unreadable += [f"NALD_PURP_USES {b}" for b in bad]
        written = connection.execute(
            UPSERT_USES,
            {
                "codes": [r[0] for r in rows],
                "descriptions": [r[1] for r in rows],
                "losses": [r[2] for r in rows],
                "two_part": [r[3] for r in rows],
            },
        ).rowcount
        ctx.count("purpose_uses", len(rows))
        ctx.count("purpose_uses_written", written)

        combinations, bad = mapping.map_rows(
            _read(connection, "NALD_PURPOSES", "APPR_CODE APSE_CODE APUS_CODE DISABLED"),
            mapping.valid_purpose,
            "APUS_CODE",
        )
        unreadable += [f"NALD_PURPOSES {b}" for b in bad]
        result = connection.execute(
            INSERT_VALID_PURPOSES,
            {
                "primaries": [c[0] for c in combinations],
                "secondaries": [c[1] for c in combinations],
                "uses": [c[2] for c in combinations],
            },
        ).one()
        ctx.count("valid_purposes", len(combinations))
        ctx.count("valid_purposes_written", result.written)
        ctx.count("valid_purposes_unknown_codes", len(combinations) - result.known)
        if len(combinations) > result.known:
            ctx.logger.warning(
                "%d enabled NALD_PURPOSES combinations name a code missing from the purposes tables: left out",
                len(combinations) - result.known,
            )

    ctx.count("reference_unreadable", len(unreadable))
    for line in unreadable:
        ctx.logger.warning("left out, the rules cannot read it: %s", line)
