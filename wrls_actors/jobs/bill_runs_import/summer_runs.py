"""The NALD two-part tariff bill runs that were summer runs, as ``region:BILL_RUN_NO``.

NALD does not record which of its two-part tariff runs billed the summer
season; the legacy bill-runs import listed them (legacy ``bill-runs-import/lib/
queries.js``): seven per region, financial years 2016 to 2022.
"""

SUMMER_RUNS: dict[int, tuple[int, ...]] = {
    1: (582, 609, 640, 673, 706, 750, 778),
    2: (546, 572, 604, 636, 663, 694, 717),
    3: (367, 404, 451, 483, 518, 552, 571),
    4: (308, 323, 346, 376, 408, 428, 439),
    5: (640, 659, 685, 715, 758, 794, 816),
    6: (494, 517, 542, 559, 584, 602, 618),
    7: (334, 359, 401, 443, 502, 547, 574),
    8: (304, 328, 341, 351, 367, 379, 392),
}

LEGACY_IDS: list[str] = [f"{region}:{number}" for region, numbers in SUMMER_RUNS.items() for number in numbers]
