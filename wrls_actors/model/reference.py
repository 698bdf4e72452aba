"""Reference rows the jobs need and other WRLS services own: the NALD regions
and the CRM v2 role names.

In production they exist already. ``db upgrade`` writes them only into a
table it has just created, so a development database, the tests' and the
embedded default's work like production's, and a table another service made
is never touched.
"""

from sqlalchemy import Connection, text

# NALD region code, charge region, name (water.regions of the water service).
REGIONS = ((1, "A", "Anglian"), (2, "B", "Midlands"), (3, "Y", "North East"), (4, "N", "North West"),
           (5, "E", "South West"), (6, "S", "Southern"), (7, "T", "Thames"), (8, "W", "EA Wales"))

ROLES = ("licenceHolder", "returnsTo", "billing", "additionalContact")


TABLES = ("water.regions", "crm_v2.roles")


def seed_created(connection: Connection, created: set[str]) -> None:
    """Fill the reference tables among ``created`` (schema-qualified names)."""
    if "water.regions" in created:
        for nald_id, charge_region, name in REGIONS:
            connection.execute(text("INSERT INTO water.regions (nald_region_id, charge_region_id, name, display_name) "
                                    "VALUES (:n, :c, :name, :name)"), {"n": nald_id, "c": charge_region, "name": name})
    if "crm_v2.roles" in created:
        for name in ROLES:
            connection.execute(text("INSERT INTO crm_v2.roles (name) VALUES (:n)"), {"n": name})
