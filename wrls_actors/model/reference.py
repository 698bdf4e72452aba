"""Reference rows the jobs need and other WRLS services own: the NALD regions,
the CRM v2 role names and the change reason of NALD's charge version gaps.

In production they exist already. ``db upgrade`` writes them only into a
table it has just created, so a development database, the tests' and the
embedded default's work like production's, and a table another service made
is never touched.
"""

from sqlalchemy import Connection, text

# NALD region code, charge region, name (water.regions of the water service).
REGIONS = (
    (1, "A", "Anglian"),
    (2, "B", "Midlands"),
    (3, "Y", "North East"),
    (4, "N", "North West"),
    (5, "E", "South West"),
    (6, "S", "Southern"),
    (7, "T", "Thames"),
    (8, "W", "EA Wales"),
)

ROLES = ("licenceHolder", "returnsTo", "billing", "additionalContact")

# The reason charging-import-versions gives the versions it makes for the spans NALD does not charge.
NALD_GAP = "NALD gap"

TABLES = ("water.regions", "crm_v2.roles", "water.change_reasons")


def seed_created(connection: Connection, created: set[str]) -> None:
    """Fill the reference tables among ``created`` (schema-qualified names)."""
    if "water.regions" in created:
        for nald_id, charge_region, name in REGIONS:
            connection.execute(
                text(
                    "INSERT INTO water.regions (nald_region_id, charge_region_id, name, display_name) "
                    "VALUES (:n, :c, :name, :name)"
                ),
                {"n": nald_id, "c": charge_region, "name": name},
            )
    if "crm_v2.roles" in created:
        for name in ROLES:
            connection.execute(text("INSERT INTO crm_v2.roles (name) VALUES (:n)"), {"n": name})
    if "water.change_reasons" in created:
        connection.execute(
            text(
                "INSERT INTO water.change_reasons (description, type, is_enabled_for_new_charge_versions) "
                "VALUES (:d, 'new_non_chargeable_charge_version', false)"
            ),
            {"d": NALD_GAP},
        )
