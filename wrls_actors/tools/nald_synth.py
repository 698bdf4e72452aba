"""A deterministic generator of realistic NALD extracts, shaped like the one the nightly import downloads.

It also carries the PRESROC billing history the one-off bill-runs import reads (NALD_BILL_RUNS,
NALD_BILL_HEADERS, NALD_BILL_TRANS, NALD_TPT_RETURNS, financial years 2014 to 2022).

The extract is an AES-encrypted zip (normally ``nald_enc.zip``) holding one
unencrypted ``NALD.zip``, which holds one CSV file per NALD table
(``<TABLE>.txt``): a header line of the columns of ``model/nald.py``, the
string ``null`` for NULL, dates ``DD/MM/YYYY`` (``RET_DATE`` ``YYYYMMDDHH24MISS``).

Licence ``n`` draws from its own stream, ``Random(f"{seed}:{n}")``, and IDs
come from per-region counters, so a seed always gives the same bytes and the
first N licences of a larger extract are the same as those of a smaller one.
IDs restart at 1 in every region on purpose: rows are keyed by
(``FGAC_REGION_CODE``, ``ID``), and a reader that forgets the region shows up.

"Today" is :data:`EXTRACT_DATE`, not the clock, so the returns the data
implies (which cycles are current, which are received) never drift.
"""

from __future__ import annotations

import bisect
import csv
import io
import marshal
import os
import random
import tempfile
import zipfile
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pyzipper

from ..model.nald import BY_NAME, NALD_TABLES, NULL

#: The day the synthetic extract was taken: the current return cycles are the ones holding it.
EXTRACT_DATE = date(2026, 11, 1)
# Annual bills run after each financial year, so current charge versions are billed up to the last 31 March.
_LAST_BILLED = date(EXTRACT_DATE.year - (EXTRACT_DATE.month <= 3), 3, 31)
INNER_ZIP = "NALD.zip"
AUDIT_FILE = "NALD_RET_LINES_AUDIT.txt"

# Form logs are kept for the cycles starting from here (about ten years, as NALD's are in practice).
FIRST_LOGGED_CYCLE = date(EXTRACT_DATE.year - 9, 4, 1)
# Licences flushed to the spool at a time: bounds memory whatever the extract size.
_BATCH = 500
# Parties reused by later licences of a region are drawn from the latest ones only, so memory stays flat.
_POOL = 300
# Every 200th licence has no versions (the importer skips those); fixed rather than drawn, so even a
# few hundred licences are sure to hold some.
_NO_VERSIONS_EVERY, _NO_VERSIONS_AT = 200, 57

_COLUMNS = {t.name: t.columns for t in NALD_TABLES}
Row = list[str]


# --------------------------------------------------------------------------- reference data


def _licence_number(
    template: str, modulus: int, offset: int = 1, serials: int = 10000
) -> Callable[[int, random.Random], str]:
    """A LIC_NO form of one region, unique by construction.

    ``k`` (the region's licence sequence) is shuffled within blocks of ``modulus * serials``
    (multiplying by a prime that shares no factor with the block is a bijection), then kept whole in
    ``a`` = k % modulus + offset and ``b`` = k // modulus. ``r``, ``d`` and ``s`` are decoration.
    """
    block = modulus * serials

    def number(k: int, rng: random.Random) -> str:
        k = (k % block * 7919 + 4099) % block + k // block * block
        return template.format(
            a=k % modulus + offset, b=k // modulus, r=rng.randint(1, 999), d=rng.randint(1, 9), s=rng.choice("SG")
        )

    return number


@dataclass(frozen=True)
class _Region:
    code: int
    name: str
    abbr: str
    weight: int  # share of the licences, roughly as in NALD
    ias_letter: str  # first letter of the region's customer references
    # Each form starts with its own first segment, so two forms never produce the same number.
    licence_numbers: tuple[Callable[[int, random.Random], str], ...]
    towns: tuple[tuple[str, str, str], ...]  # (town, county, postcode area)
    grid_sheets: tuple[str, ...]
    rivers: tuple[str, ...]


REGIONS: tuple[_Region, ...] = (
    _Region(
        1,
        "Anglian",
        "AN",
        24,
        "A",
        (_licence_number("6/33/{a:02d}/*{s}/{b:04d}", 60), _licence_number("AN/{a:03d}/{b:04d}/{r:03d}", 90, 30)),
        (
            ("Cambridge", "Cambridgeshire", "CB"),
            ("Ely", "Cambridgeshire", "CB"),
            ("King's Lynn", "Norfolk", "PE"),
            ("Norwich", "Norfolk", "NR"),
            ("Ipswich", "Suffolk", "IP"),
            ("Bury St Edmunds", "Suffolk", "IP"),
            ("Lincoln", "Lincolnshire", "LN"),
            ("Boston", "Lincolnshire", "PE"),
            ("Chelmsford", "Essex", "CM"),
        ),
        ("TL", "TF", "TG", "TM"),
        ("Great Ouse", "Nene", "Welland", "Wensum", "Stour"),
    ),
    _Region(
        2,
        "Midlands",
        "MD",
        16,
        "B",
        (_licence_number("MD/{a:03d}/{b:04d}/{r:03d}", 90, 28), _licence_number("03/28/{a:02d}/{b:04d}", 80, 10)),
        (
            ("Coventry", "West Midlands", "CV"),
            ("Derby", "Derbyshire", "DE"),
            ("Newark", "Nottinghamshire", "NG"),
            ("Leicester", "Leicestershire", "LE"),
            ("Stoke-on-Trent", "Staffordshire", "ST"),
            ("Shrewsbury", "Shropshire", "SY"),
            ("Hereford", "Herefordshire", "HR"),
            ("Evesham", "Worcestershire", "WR"),
        ),
        ("SK", "SO", "SP", "SJ"),
        ("Trent", "Severn", "Avon", "Teme", "Dove"),
    ),
    _Region(
        3,
        "North East",
        "NE",
        12,
        "Y",
        (_licence_number("2/27/{a:02d}/{b:03d}", 80, 10, 1000), _licence_number("NE/027/{b:04d}/{a:03d}", 200)),
        (
            ("Durham", "County Durham", "DH"),
            ("Darlington", "County Durham", "DL"),
            ("Hexham", "Northumberland", "NE"),
            ("York", "North Yorkshire", "YO"),
            ("Malton", "North Yorkshire", "YO"),
            ("Beverley", "East Riding of Yorkshire", "HU"),
            ("Harrogate", "North Yorkshire", "HG"),
            ("Doncaster", "South Yorkshire", "DN"),
        ),
        ("SE", "NZ", "TA", "NY"),
        ("Tyne", "Wear", "Tees", "Derwent", "Swale"),
    ),
    _Region(
        4,
        "North West",
        "NW",
        9,
        "N",
        (_licence_number("24/58/{a:02d}/{b:04d}", 90), _licence_number("NW/072/{b:04d}/{a:03d}", 150)),
        (
            ("Carlisle", "Cumbria", "CA"),
            ("Kendal", "Cumbria", "LA"),
            ("Penrith", "Cumbria", "CA"),
            ("Lancaster", "Lancashire", "LA"),
            ("Preston", "Lancashire", "PR"),
            ("Chester", "Cheshire", "CH"),
            ("Nantwich", "Cheshire", "CW"),
            ("Wigan", "Greater Manchester", "WN"),
        ),
        ("SD", "SJ", "NY"),
        ("Eden", "Lune", "Ribble", "Weaver", "Mersey"),
    ),
    _Region(
        5,
        "South West",
        "SW",
        13,
        "E",
        (_licence_number("14/45/{a:03d}/{b:04d}", 120), _licence_number("SW/{a:03d}/{b:04d}/{r:03d}", 90, 100)),
        (
            ("Exeter", "Devon", "EX"),
            ("Barnstaple", "Devon", "EX"),
            ("Truro", "Cornwall", "TR"),
            ("Launceston", "Cornwall", "PL"),
            ("Taunton", "Somerset", "TA"),
            ("Bridgwater", "Somerset", "TA"),
            ("Dorchester", "Dorset", "DT"),
            ("Yeovil", "Somerset", "BA"),
        ),
        ("SX", "SY", "ST", "SS", "SW"),
        ("Exe", "Tamar", "Taw", "Parrett", "Frome"),
    ),
    _Region(
        6,
        "Southern",
        "SO",
        11,
        "S",
        (
            _licence_number("11/42/{a:02d}.{d}/{b:03d}", 80, 10, 1000),
            _licence_number("SO/{a:03d}/{b:04d}/{r:03d}", 90, 40),
        ),
        (
            ("Lewes", "East Sussex", "BN"),
            ("Canterbury", "Kent", "CT"),
            ("Maidstone", "Kent", "ME"),
            ("Chichester", "West Sussex", "PO"),
            ("Winchester", "Hampshire", "SO"),
            ("Romsey", "Hampshire", "SO"),
            ("Tonbridge", "Kent", "TN"),
            ("Newport", "Isle of Wight", "PO"),
        ),
        ("SU", "TQ", "TR", "SZ"),
        ("Test", "Itchen", "Medway", "Arun", "Rother"),
    ),
    _Region(
        7,
        "Thames",
        "TH",
        9,
        "T",
        (_licence_number("TH/{a:03d}/{b:04d}/{r:03d}", 70), _licence_number("28/39/{a:02d}/{b:04d}", 90)),
        (
            ("Oxford", "Oxfordshire", "OX"),
            ("Abingdon", "Oxfordshire", "OX"),
            ("Reading", "Berkshire", "RG"),
            ("Newbury", "Berkshire", "RG"),
            ("High Wycombe", "Buckinghamshire", "HP"),
            ("Guildford", "Surrey", "GU"),
            ("Swindon", "Wiltshire", "SN"),
            ("St Albans", "Hertfordshire", "AL"),
        ),
        ("SU", "TQ", "SP", "TL"),
        ("Thames", "Kennet", "Cherwell", "Wey", "Lea"),
    ),
    _Region(
        8,
        "Wales",
        "WA",
        6,
        "W",
        (_licence_number("21/56/{a:02d}/{b:04d}", 60), _licence_number("WA/{a:03d}/{b:04d}/{r:03d}", 90, 50)),
        (
            ("Carmarthen", "Carmarthenshire", "SA"),
            ("Brecon", "Powys", "LD"),
            ("Llandrindod Wells", "Powys", "LD"),
            ("Bangor", "Gwynedd", "LL"),
            ("Wrexham", "Clwyd", "LL"),
            ("Abergavenny", "Monmouthshire", "NP"),
            ("Aberystwyth", "Ceredigion", "SY"),
        ),
        ("SN", "SO", "SH", "SJ", "SM"),
        ("Usk", "Wye", "Towy", "Teifi", "Dee"),
    ),
)

WA_LIC_TYPES = (
    ("FULL", "Full Licence"),
    ("TRAN", "Transfer Licence"),
    ("TEMP", "Temporary Licence"),
    ("IMPD", "Impounding Licence"),
    ("LOR", "Licence Of Right (Water Resources Act 1963)"),
)
MEANS_OF_ABS = (
    ("UNP", "Unspecified Pump"),
    ("SUBP", "Submersible Pump (Electric)"),
    ("CENP", "Centrifugal Pump"),
    ("DIAP", "Diaphragm Pump"),
    ("GRAV", "Gravity"),
    ("SIPH", "Siphon"),
    ("TPTO", "Pump, Tractor Power Take-Off"),
    ("WIND", "Windpump"),
)
SOURCES = (("SW", "Surface Water"), ("GW", "Groundwater"), ("TL", "Tidal Water"), ("SP", "Spring"), ("UNK", "Unknown"))
PURP_PRIMS = (
    ("A", "Agriculture"),
    ("E", "Production Of Energy"),
    ("I", "Industrial, Commercial And Public Services"),
    ("M", "Amenity"),
    ("P", "Private Non-Industrial"),
    ("W", "Water Supply"),
    ("X", "Environmental"),
)
PURP_SECS = (
    ("AGR", "General Agriculture"),
    ("FSH", "Fish Farming"),
    ("HYD", "Hydroelectric"),
    ("ELC", "Electricity (Thermal)"),
    ("OTI", "Other Industrial/Commercial/Public Services"),
    ("FAD", "Food & Drink"),
    ("MIN", "Extractive"),
    ("PRV", "Private Non-Industrial"),
    ("PWS", "Public Water Supply"),
    ("ENV", "Environmental"),
    ("AMN", "Amenity"),
    ("GOF", "Golf Courses"),
)
# (code, description, loss factor); 380-420, 600 and 620 are the two-part tariff uses.
PURP_USES = (
    ("10", "Heat Pump", "V"),
    ("70", "Potable Water Supply - Direct", "L"),
    ("80", "Potable Water Supply - Storage", "L"),
    ("140", "General Farming & Domestic", "M"),
    ("160", "Drinking, Cooking, Sanitary, Washing (Small Garden) - Household", "M"),
    ("180", "Fish Farm/Cress Pond Throughflow", "V"),
    ("200", "Evaporative Cooling", "H"),
    ("240", "Hydroelectric Power Generation", "V"),
    ("260", "Process Water", "M"),
    ("270", "Vegetable Washing", "M"),
    ("280", "Mineral Washing", "M"),
    ("300", "Dust Suppression", "H"),
    ("320", "Lake & Pond Throughflow", "V"),
    ("340", "Make-Up Or Top Up Water", "M"),
    ("380", "Trickle Irrigation - Direct", "H"),
    ("390", "Trickle Irrigation - Storage", "H"),
    ("400", "Spray Irrigation - Direct", "H"),
    ("410", "Spray Irrigation - Anti Frost", "H"),
    ("420", "Spray Irrigation - Storage", "H"),
    ("500", "Transfer Between Sources (Pre Water Act 2003)", "L"),
    ("600", "Horticultural Watering", "H"),
    ("620", "Golf Course Irrigation", "H"),
)
TWO_PART_TARIFF_USES = frozenset({"380", "390", "400", "410", "420", "600", "620"})
# (primary, secondary, use, DISABLED, how often licences use it)
PURPOSES = (
    ("A", "AGR", "140", "N", 14),
    ("A", "AGR", "380", "N", 4),
    ("A", "AGR", "390", "N", 2),
    ("A", "AGR", "400", "N", 22),
    ("A", "AGR", "410", "N", 1),
    ("A", "AGR", "420", "N", 9),
    ("A", "AGR", "600", "N", 3),
    ("A", "AGR", "270", "N", 2),
    ("A", "FSH", "180", "N", 3),
    ("A", "AGR", "10", "Y", 1),
    ("E", "HYD", "240", "N", 2),
    ("E", "ELC", "200", "N", 1),
    ("I", "OTI", "260", "N", 6),
    ("I", "FAD", "270", "N", 2),
    ("I", "MIN", "280", "N", 2),
    ("I", "OTI", "300", "N", 2),
    ("I", "OTI", "340", "N", 1),
    ("I", "OTI", "10", "N", 1),
    ("M", "AMN", "320", "N", 3),
    ("M", "GOF", "620", "N", 4),
    ("P", "PRV", "160", "N", 7),
    ("P", "PRV", "320", "N", 2),
    ("W", "PWS", "70", "N", 3),
    ("W", "PWS", "80", "N", 1),
    ("X", "ENV", "500", "N", 1),
    ("E", "ELC", "10", "Y", 0),
)
LIC_COND_TYPES = (
    ("CES", "FLOW", "Cessation Condition", "Dependent On Flow, Level Or Volume", "Y"),
    ("CES", "LEV", "Cessation Condition", "Dependent On Groundwater Level", "Y"),
    ("CES", "POL", "Cessation Condition", "Political - Hosepipe Ban", "Y"),
    ("AGG", "PP", "Aggregate", "Purpose To Purpose", "Y"),
    ("AGG", "LL", "Aggregate", "Licence To Licence", "Y"),
    ("RAT", "INST", "Rates", "Instantaneous Rate, Limits", "Y"),
    ("NSQ", "M3M", "Non-Standard Quantities", "Cubic Metres Per Month", "Y"),
    ("INFL", "COMP", "Inflow Control", "Compensation Flow", "Y"),
    ("MCOMP", "MET", "Measurement", "Meter, Install And Maintain", "N"),
    ("WLM", "GW", "Water Level Monitoring", "Groundwater", "N"),
    ("EEL", "REGS", "Eel Regulations", 'Screen Required ("Eels Regulations 2009")', "N"),
    ("GEN", "GEN", "General Conditions", "General", "N"),
)
LIC_ROLE_TYPES = (
    ("LC", "Licence Contact"),
    ("RT", "Returns To"),
    ("AG", "Agent"),
    ("EN", "Enforcement Contact"),
    ("FM", "Flood, Drought & Emergency Contact"),
)
CONT_NO_TYPES = (
    ("TEL", "Telephone"),
    ("FAX", "Facsimile"),
    ("MOB", "Mobile Phone"),
    ("EMAIL", "Email Address"),
    ("TLX", "Telex"),
)
FIN_AGRMNT_TYPES = (
    ("S127", "Two-Part Tariff (Section 127)", "N"),
    ("S130U", "Canal & River Trust, Unsupported Source (Section 130)", "N"),
    ("S130S", "Canal & River Trust, Supported Source (Section 130)", "N"),
    ("S130T", "Crown And Government, Tidal (Section 130)", "N"),
    ("S130W", "Water Undertaker (Section 130)", "N"),
    ("S126", "Abatement (Section 126)", "N"),
    ("POW", "Power Station Agreement", "N"),
    ("INST", "Instalments", "Y"),
    ("S57", 'Spray Irrigation "Emergency" (Section 57)', "Y"),
)

# Reason codes of licence and return version changes: SUCC (a new holder) splits return cycles, the
# variation codes move due dates; the rest change nothing in the returns rules.
_FIRST_REASONS = (("NEW", 80), ("TRAN", 20))
_LATER_REASONS = (
    ("VARF", 18),
    ("VARM", 18),
    ("AMND", 10),
    ("NAME", 10),
    ("REDS", 8),
    ("XCORR", 5),
    ("SPAC", 3),
    ("SPAN", 2),
    ("MINV", 14),
    ("CORR", 12),
)

SURNAMES = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Hughes",
    "Edwards",
    "Turner",
    "Cooper",
    "Harris",
    "Ward",
    "King",
    "Baker",
    "Moore",
    "Allen",
    "Price",
    "Lewis",
    "Hill",
    "Lloyd",
    "Morgan",
    "Carter",
    "Parry",
    "Shaw",
    "Fisher",
    "Marsh",
    "Cole",
    "Russell",
    "Bailey",
    "Pryce",
    "Howells",
    "Fenwick",
    "Dobson",
    "Ashworth",
    "Holt",
    "Pemberton",
    "O'Neill",
    "Bowen",
)
FORENAMES = (
    "John",
    "David",
    "Peter",
    "Richard",
    "James",
    "Robert",
    "Michael",
    "William",
    "Andrew",
    "Stephen",
    "Mary",
    "Susan",
    "Margaret",
    "Elizabeth",
    "Sarah",
    "Helen",
    "Anne",
    "Jane",
    "Catherine",
    "Emma",
    "Thomas",
    "George",
    "Edward",
    "Charles",
    "Rhys",
    "Gareth",
    "Sian",
    "Alison",
    "Fiona",
    "Mark",
)
SALUTATIONS = ("Mr", "Mr", "Mr", "Mrs", "Ms", "Miss", "Dr")
FARMS = (
    "Manor",
    "Church",
    "Hill",
    "Grange",
    "Home",
    "Mill",
    "Lodge",
    "Park",
    "Valley",
    "Brook",
    "Moor",
    "Hall",
    "Oak",
    "Elm",
    "Willow",
    "Marsh",
    "Heath",
    "Fen",
    "Ashtree",
    "Newlands",
    "Poplar",
    "Glebe",
)
VILLAGES = (
    "Little Snoring",
    "Great Shelford",
    "Long Sutton",
    "Upper Slaughter",
    "Nether Wallop",
    "Much Wenlock",
    "Lower Swell",
    "West Acre",
    "East Harling",
    "Kings Ripton",
    "Steeple Bumpstead",
    "Sutton Valence",
    "Bishops Lydeard",
    "Market Weighton",
    "Temple Sowerby",
    "Llanfair",
    "Abbots Langley",
    "Child Okeford",
)
STREETS = (
    "High Street",
    "Church Lane",
    "Mill Road",
    "Station Road",
    "London Road",
    "Back Lane",
    "The Green",
    "Fen Road",
    "Chapel Street",
    "School Lane",
)
GAUGING_STATIONS = (
    "Denver Sluice",
    "Kingsmill",
    "Bolton Percy",
    "Teddington Weir",
    "Brockweir",
    "Low Moor",
    "Chester Weir",
    "Broadford Bridge",
    "Middleton",
    "Sheepwash",
)
_POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

_PERIODS = (((1, 1, 31, 12), 60), ((1, 4, 31, 10), 20), ((1, 11, 31, 3), 10), ((1, 4, 30, 9), 7), ((1, 5, 31, 8), 3))
_FREQUENCIES = (("M", 40), ("D", 20), ("W", 20), ("Q", 6), ("A", 14))
# FORM_PRODN_MONTH: 65, 45 and 80 are the summer (Nov-Oct) formats, about 15% of them.
_PRODUCTION_MONTHS = (("66", 52), ("16", 30), ("46", 2), ("15", 1), ("65", 8), ("45", 4), ("80", 3))
_SUMMER_PRODUCTION_MONTHS = frozenset({"65", "45", "80"})
_ROLE_TYPES = (("RT", 40), ("LC", 30), ("AG", 15), ("EN", 10), ("FM", 5))


class _Weighted:
    """A choice with weights, drawn with one ``random()`` (``rng.choices`` costs more per call)."""

    def __init__(self, pairs: Iterable[tuple[object, int]]) -> None:
        pairs = [(item, weight) for item, weight in pairs if weight > 0]
        self.items = [item for item, _ in pairs]
        self.cumulative, total = [], 0
        for _, weight in pairs:
            total += weight
            self.cumulative.append(total)
        self.total = total

    def __call__(self, rng: random.Random):
        return self.items[bisect.bisect(self.cumulative, rng.random() * self.total)]


_region = _Weighted((r, r.weight) for r in REGIONS)
_purpose = _Weighted((p[:3], p[4]) for p in PURPOSES)
_period = _Weighted(_PERIODS)
_frequency = _Weighted(_FREQUENCIES)
_production_month = _Weighted(_PRODUCTION_MONTHS)
_role_type = _Weighted(_ROLE_TYPES)
_first_reason = _Weighted(_FIRST_REASONS)
_later_reason = _Weighted(_LATER_REASONS)
_versions_count = _Weighted(((1, 45), (2, 30), (3, 15), (4, 10)))
_LOSS_FACTOR = {code: loss for code, _, loss in PURP_USES}
_USE_NAME = {code: name for code, name, _ in PURP_USES}


# --------------------------------------------------------------------------- bill runs (PRESROC, up to 2022)

#: FIN_YEAR of the bill runs: the financial year ending 31 March of it. PRESROC billing ended with 2022;
#: the bill-runs import takes 2015 on, so 2014 is there for it to leave out.
BILLED_YEARS = range(2014, 2023)
#: The summer two-part tariff runs of FIN_YEAR 2016..2022, per region, in year order: the bill-runs import
#: flags exactly these 'region:BILL_RUN_NO' as summer runs (a hard-coded list), so the synthetic runs carry them.
SUMMER_TPT_RUNS: dict[int, tuple[int, ...]] = {
    1: (582, 609, 640, 673, 706, 750, 778),
    2: (546, 572, 604, 636, 663, 694, 717),
    3: (367, 404, 451, 483, 518, 552, 571),
    4: (308, 323, 346, 376, 408, 428, 439),
    5: (640, 659, 685, 715, 758, 794, 816),
    6: (494, 517, 542, 559, 584, 602, 618),
    7: (334, 359, 401, 443, 502, 547, 574),
    8: (304, 328, 341, 351, 367, 379, 392),
}
_FIRST_LISTED_YEAR = 2016
# Each kind of run: its BILL_RUN_TYPE, how far its number sits below the year's summer run (the listed
# numbers are at least 10 apart, so the runs of a year never reach the previous year's), and when it is
# started, in days after the financial year ends. "other" is a type the import does not take.
BILL_RUN_KINDS: dict[str, tuple[str, int, tuple[int, int]]] = {
    "annual": ("A", 3, (2, 40)),
    "supplementary": ("S", 2, (120, 200)),
    "winter": ("R", 1, (60, 90)),
    "summer": ("R", 0, (240, 270)),
    "other": ("X", 4, (90, 120)),
}
# One "other" run per region, in this year; and the runs never transferred to the billing system (the
# import skips them): (region, FIN_YEAR, kind).
_OTHER_RUN_YEAR = 2019
_NOT_TRANSFERRED = frozenset({(4, 2022, "supplementary"), (8, 2021, "winter")})
# The charge factors of a bill line by its element's codes: source (ASRF_CODE), season (ASFT_CODE), loss
# (ALSF_CODE), and the source factor of the compensation charge, which tidal water does not pay.
_SOURCE_VALUES = {"U": "1", "S": "3", "T": "0.2"}
_EIUC_SOURCE_VALUES = {"U": "1", "S": "1", "T": "0"}
_SEASON_VALUES = {"S": "1.6", "W": "0.016", "A": "1"}
_LOSS_VALUES = {"H": "1", "M": "0.6", "L": "0.03", "V": "0.003"}
_S130_AGREEMENTS = ("S130U", "S130S", "S130T", "S130W")
# The two-part tariff summer, as the bill-runs import reads a TPT return's date: (month, day) from and to.
_TPT_SUMMER = {True: ((4, 29), (11, 28)), False: ((4, 16), (11, 15))}  # by "Southern or Thames"
# Half the charged licences have bills: that keeps the bill tables near 0.8 M rows at 71,000 licences.
_BILLED_SHARE = 0.5
# Invoices in a run, per unit of the region's weight.
_RUN_INVOICES = {"annual": (180, 220), "summer": (8, 15), "winter": (3, 8), "supplementary": (1, 12), "other": (1, 12)}


def bill_run_number(region: int, fin_year: int, kind: str) -> int:
    """BILL_RUN_NO of a region's run of ``kind`` (a key of :data:`BILL_RUN_KINDS`) for ``fin_year``.

    Pure, so a licence's bills name their runs without asking anyone; no two runs of a region share one.
    """
    if fin_year not in BILLED_YEARS:
        raise ValueError(f"no bill runs for FIN_YEAR {fin_year}")
    listed = SUMMER_TPT_RUNS[region]
    if fin_year >= _FIRST_LISTED_YEAR:
        summer = listed[fin_year - _FIRST_LISTED_YEAR]
    else:
        summer = listed[0] - 10 * (_FIRST_LISTED_YEAR - fin_year)
    return summer - BILL_RUN_KINDS[kind][1]


def _pounds(pence: int) -> str:
    return f"{pence / 100:.2f}"


def _bill_run_rows() -> list[Row]:
    """Every region's runs: per year an annual, a supplementary and two two-part tariff runs, and one other.

    Their counts and values are of the right size but do not add up to the bills: the import copies them.
    """
    columns = BY_NAME["NALD_BILL_RUNS"].columns
    rows = []
    for r in REGIONS:
        rng = random.Random(f"bill-runs:{r.code}")
        runs = [
            (year, kind)
            for year in BILLED_YEARS
            for kind in BILL_RUN_KINDS
            if kind != "other" or year == _OTHER_RUN_YEAR
        ]
        for year, kind in sorted(runs, key=lambda run: bill_run_number(r.code, *run)):
            run_type, _, (soonest, latest) = BILL_RUN_KINDS[kind]
            started = date(year, 3, 31) + timedelta(days=rng.randint(soonest, latest))
            finished = started + timedelta(days=rng.randint(1, 20))
            invoices = r.weight * rng.randint(*_RUN_INVOICES[kind])
            credits = rng.randint(0, r.weight) * (5 if kind == "supplementary" else 1)
            transferred = (
                None if (r.code, year, kind) in _NOT_TRANSFERRED else finished + timedelta(days=rng.randint(1, 5))
            )
            row = {
                "BILL_RUN_NO": bill_run_number(r.code, year, kind),
                "FGAC_REGION_CODE": r.code,
                "BILL_RUN_TYPE": run_type,
                "FIN_YEAR": year,
                "INITIATION_DATE": started,
                "BILL_RUN_STATUS_DATE": finished,
                "NO_OF_INVS": invoices,
                "VALUE_OF_INVS": _pounds(invoices * rng.randint(90000, 250000)),
                "NO_OF_CRNS": credits,
                "VALUE_OF_CRNS": _pounds(-credits * rng.randint(10000, 150000)),
                "IAS_XFER_DATE": transferred,
            }
            rows.append([_cell(row[c]) for c in columns])
    return rows


def _reference_rows() -> dict[str, list[Row]]:
    """The lookup tables: fixed, whatever the seed and size."""
    units: list[Row] = []
    for r in REGIONS:
        region = str(r.code)
        units += [[f"{r.abbr}C{i:02d}", region, f"{r.rivers[i % len(r.rivers)]} CAMS"] for i in range(1, 9)]
        units += [
            [f"{r.abbr}AR{i}", region, f"{r.name} {area} Area"]
            for i, area in enumerate(("Northern", "Central", "Southern"), 1)
        ]
        units += [
            [f"{r.abbr}OTH", region, "Other Abstractors"],
            [f"{r.abbr}SWC", region, "Statutory Water Company"],
            [r.abbr, region, f"{r.name}, Standard Unit Charge"],
            [f"{r.abbr}T", region, f"{r.name}, Tidal"],
        ]
        units += [[f"{r.abbr}L{i:02d}", region, f"Local Environment Agency Plan {i}"] for i in range(1, 13)]
    return {
        "NALD_WA_LIC_TYPES": [list(t) for t in WA_LIC_TYPES],
        "NALD_MEANS_OF_ABS": [list(t) for t in MEANS_OF_ABS],
        "NALD_SOURCES": [list(t) for t in SOURCES],
        "NALD_PURP_PRIMS": [list(t) for t in PURP_PRIMS],
        "NALD_PURP_SECS": [list(t) for t in PURP_SECS],
        "NALD_PURP_USES": [list(t) for t in PURP_USES],
        "NALD_PURPOSES": [list(p[:4]) for p in PURPOSES],
        "NALD_LIC_COND_TYPES": [list(t) for t in LIC_COND_TYPES],
        "NALD_CONT_NO_TYPES": [list(t) for t in CONT_NO_TYPES],
        "NALD_LIC_ROLE_TYPES": [list(t) for t in LIC_ROLE_TYPES],
        "NALD_REP_UNITS": units,
        "NALD_FIN_AGRMNT_TYPES": [list(t) for t in FIN_AGRMNT_TYPES],
        "NALD_BILL_RUNS": _bill_run_rows(),
    }


# --------------------------------------------------------------------------- values


@cache
def _nald_date(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def _cell(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return NULL
    if isinstance(value, date):
        return _nald_date(value)
    return str(value)


def _day(rng: random.Random, first: date, last: date) -> date:
    return date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))


def _days_between(rng: random.Random, first: date, last: date, count: int) -> list[date]:
    """``count`` distinct days in first..last, sorted (fewer when the range is shorter)."""
    span = range(first.toordinal(), last.toordinal() + 1)
    return sorted(date.fromordinal(o) for o in rng.sample(span, min(count, len(span))))


def _last_day_of_month(day: date) -> date:
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def _period_ends(first: date, last: date, months: int) -> Iterator[date]:
    """Ends of the ``months``-long return periods from ``first`` to ``last``, the last one cut at ``last``."""
    end = _last_day_of_month(first)
    while True:
        for _ in range(months - 1):
            end = _last_day_of_month(end + timedelta(days=1))
        if end >= last:
            yield last
            return
        yield end
        end = _last_day_of_month(end + timedelta(days=1))


def _cycles(start: date, end: date | None, summer: bool) -> Iterator[tuple[date, date]]:
    """The logged cycles (Apr-Mar, or Nov-Oct when summer) that overlap start..end, cut to it.

    Only cycles that have begun by the extract date: NALD produces the form of the current cycle,
    not of later ones.
    """
    month = 11 if summer else 4
    year = FIRST_LOGGED_CYCLE.year
    while True:
        first = date(year, month, 1)
        if first > EXTRACT_DATE or (end is not None and first > end):
            return
        last = date(year + 1, month, 1) - timedelta(days=1)
        if last >= start and start <= EXTRACT_DATE:
            yield max(first, start), last if end is None else min(last, end)
        year += 1


def _quantity(rng: random.Random, low: int, high: int) -> str:
    value = rng.randint(low, high)
    return str(value) if rng.random() < 0.7 else f"{value}.{rng.randint(1, 99):02d}"


@cache  # bounded: five periods, nine years, the days of a year a version can end on
def _period_days(period: tuple[int, int, int, int], first: date, last: date) -> int:
    """The days of first..last inside an abstraction period (which may run over the new year)."""
    st_day, st_month, end_day, end_month = period
    over_new_year = (end_month, end_day) < (st_month, st_day)
    days = 0
    for year in range(first.year - 1, last.year + 1):
        start, end = date(year, st_month, st_day), date(year + over_new_year, end_month, end_day)
        days += max(0, (min(end, last) - max(start, first)).days + 1)
    return days


@cache
def _unit_charges(region: int, fin_year: int) -> tuple[float, float]:
    """The standard unit charge and the environmental improvement unit charge (£/m³) of a region's year."""
    rise = 1.02 ** (fin_year - BILLED_YEARS[0])
    return round((0.015 + 0.0013 * region) * rise, 5), round((0.0006 + 0.0001 * (region % 3)) * rise, 5)


# --------------------------------------------------------------------------- per-licence generation


@dataclass(slots=True)
class _Holder:
    party: str
    address: str
    account: str  # NALD_LH_ACCS.ACC_NO
    customer_ref: str  # the latest NALD_IAS_INVOICE_ACCS.IAS_CUST_REF of the account


@dataclass(slots=True)
class _Version:
    issue: int
    incr: int
    status: str
    start: date
    end: date | None
    holder: _Holder
    reason: str | None  # NALD_MOD_LOGS.AMRE_CODE, None when the version has no mod log


@dataclass(slots=True)
class _Purpose:
    """A licence purpose as it is carried from version to version (each version gives it new IDs)."""

    codes: tuple[str, str, str]
    period: tuple[int, int, int, int]
    quantity: str | None
    notes: str | None
    time_limited: tuple[date, date] | None
    points: list[tuple[str, str]]  # (point ID, means of abstraction)
    conditions: list[tuple[str, str, str | None, str | None, str | None]]  # code, subcode, param1, param2, text
    agreement: tuple[str, date, date | None] | None


@dataclass(slots=True)
class _Requirement:
    """A return requirement (format) as it is carried from return version to return version."""

    frequency: str
    production_month: str
    period: tuple[int, int, int, int]
    site: str
    descr: str | None
    two_part_tariff: str
    time_limited: bool
    purposes: list[tuple[str, str, str]]
    points: list[str]
    lines: bool  # NALD_RET_LINES for its last two completed cycles

    @property
    def summer(self) -> bool:
        return self.production_month in _SUMMER_PRODUCTION_MONTHS


@dataclass(slots=True)
class _Element:
    """A charge element as its bill lines need it."""

    id: str
    period: tuple[int, int, int, int]
    quantity: str  # the billable annual quantity, else the authorised one
    season: str  # ASFT_CODE
    source: str  # ASRF_CODE
    loss: str  # ALSF_CODE
    agreement: str | None  # AFSA_CODE of its NALD_CHG_AGRMNTS row


@dataclass(slots=True)
class _BillLines:
    """What the lines of a version's bills for one year share."""

    year: int  # FIN_YEAR
    customer_ref: str  # IAS_CUST_REF: the charge version's
    first: date  # BILL_ST_DATE..BILL_END_DATE: the part of the year the version covers
    last: date
    agreements: dict[str, tuple[str | None, str | None]]  # by element: ELEMENT_AGRMNTS, ELEMENT_AGRMNT_VALS
    s130: str | None  # LH_ACC_AGRMNTS
    new_owner: bool  # NEW_OWN_FLAG


@dataclass(slots=True)
class _Charged:
    """A charge version in force, as its bills need it."""

    start: date
    end: date | None
    billed: date | None  # BILLED_UPTO_DATE
    customer_ref: str
    elements: list[_Element]


class _RegionState:
    """What outlives one licence in a region: ID counters and the parties later licences may share."""

    def __init__(self, region: _Region) -> None:
        self.region = region
        self.code = str(region.code)
        self._next: dict[str, int] = {}
        self.holders: deque[_Holder] = deque(maxlen=_POOL)
        self.agents: deque[tuple[str, str]] = deque(maxlen=_POOL)

    def next_id(self, kind: str) -> int:
        n = self._next.get(kind, 1)
        self._next[kind] = n + 1
        return n


class _Licence:
    """The rows of one licence, appended to the per-table buffers."""

    def __init__(self, n: int, rng: random.Random, state: _RegionState, out: dict[str, list[Row]]) -> None:
        self.n, self.rng, self.state, self.region, self.out = n, rng, state, state.region, out
        self.id = str(state.next_id("licence"))
        self.water_undertaker = False  # AREP_EIUC_CODE ...SWC: no compensation charge on its bills

    def emit(self, table: str, **values: object) -> None:
        columns = _COLUMNS[table]
        values.setdefault("FGAC_REGION_CODE", self.state.code)
        if len(values) != len(columns):
            raise ValueError(f"{table}: got {sorted(values)}, want {columns}")
        self.out[table].append([v if v.__class__ is str else _cell(v) for v in map(values.__getitem__, columns)])

    # -- the licence -------------------------------------------------------------------------

    def build(self) -> None:
        rng = self.rng
        start = self._start_date()
        expiry, revoked, lapsed = self._end_dates(start)
        self._licence_row(start, expiry, revoked, lapsed)
        if self.n % _NO_VERSIONS_EVERY == _NO_VERSIONS_AT:
            return
        ends = [d for d in (expiry, revoked, lapsed) if d is not None]
        end = min(ends) if ends else None
        limit = min(end, EXTRACT_DATE) if end else EXTRACT_DATE
        versions = self._versions(start, end, limit)
        points = self._points()
        purposes = [self._new_purpose(points, start) for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))]
        for version in versions:
            purposes = self._carry(purposes, points)
            self._purpose_rows(version, purposes)
        self._roles(start, versions[-1].holder)
        self._returns(start, end, limit, versions, purposes, points)
        if rng.random() < 0.9:
            self._charging(start, end, limit, versions, purposes)

    def _start_date(self) -> date:
        roll = self.rng.random()
        if roll < 0.03:
            return _day(self.rng, date(1960, 1, 1), date(1964, 12, 31))
        if roll < 0.33:  # the licences of right, granted under the Water Resources Act 1963
            return _day(self.rng, date(1965, 4, 1), date(1968, 12, 31))
        return _day(self.rng, date(1969, 1, 1), date(2023, 12, 31))

    def _end_dates(self, start: date) -> tuple[date | None, date | None, date | None]:
        rng = self.rng
        earliest_end = start + timedelta(days=365)
        can_have_ended = earliest_end < EXTRACT_DATE
        expiry = revoked = lapsed = None
        if rng.random() < 0.22:
            if rng.random() < 0.35 and can_have_ended:
                expiry = _day(rng, earliest_end, EXTRACT_DATE - timedelta(days=1))
            else:
                expiry = _day(rng, EXTRACT_DATE + timedelta(days=1), date(2045, 3, 31))
            march_31 = date(expiry.year, 3, 31)
            if rng.random() < 0.5 and march_31 >= earliest_end and (march_31 < EXTRACT_DATE) == (expiry < EXTRACT_DATE):
                expiry = march_31  # time-limited licences mostly end with a financial year
        if can_have_ended and rng.random() < 0.03:
            revoked = _day(rng, earliest_end, EXTRACT_DATE - timedelta(days=1))
        if can_have_ended and rng.random() < 0.02:
            lapsed = _day(rng, earliest_end, EXTRACT_DATE - timedelta(days=1))
        return expiry, revoked, lapsed

    def _licence_row(self, start: date, expiry: date | None, revoked: date | None, lapsed: date | None) -> None:
        rng, r = self.rng, self.region
        number = rng.choice(r.licence_numbers)(int(self.id) - 1, rng)
        cams = None if rng.random() < 0.05 else f"{r.abbr}C{rng.randint(1, 8):02d}"
        area = f"{r.abbr}AR{rng.randint(1, 3)}"
        self.water_undertaker = rng.random() < 0.04
        self.emit(
            "NALD_ABS_LICENCES",
            ID=self.id,
            LIC_NO=number,
            ORIG_EFF_DATE=start,
            EXPIRY_DATE=expiry,
            REV_DATE=revoked,
            LAPSED_DATE=lapsed,
            AREP_CAMS_CODE=cams,
            AREP_AREA_CODE=area,
            AREP_EIUC_CODE=f"{r.abbr}SWC" if self.water_undertaker else f"{r.abbr}OTH",
            AREP_SUC_CODE=f"{r.abbr}T" if rng.random() < 0.05 else r.abbr,
            AREP_LEAP_CODE=None if rng.random() < 0.1 else f"{r.abbr}L{rng.randint(1, 12):02d}",
        )

    def _versions(self, start: date, end: date | None, limit: date) -> list[_Version]:
        rng = self.rng
        count = _versions_count(rng)
        if (limit - start).days < 60 * count:
            count = 1
        starts = [start, *_days_between(rng, start + timedelta(days=1), limit, count - 1)]
        succession = len(starts) > 1 and rng.random() < 0.09
        if succession:
            # A recent change of holder, so it splits return cycles inside the logged years.
            first = max(starts[-2] + timedelta(days=30), FIRST_LOGGED_CYCLE)
            if first <= limit:
                starts[-1] = _day(rng, first, limit)
        versions: list[_Version] = []
        holder = self._holder()
        issue, incr = 100, 0
        for i, version_start in enumerate(starts):
            last = i == len(starts) - 1
            if i == 0:
                reason = _first_reason(rng)
            elif succession and last:
                reason, holder = "SUCC", self._holder(reuse=False)
            else:
                reason = _later_reason(rng)
                issue, incr = (issue, incr + 1) if rng.random() < 0.6 else (issue + 1, 0)
            if reason == "SUCC":
                issue, incr = issue + 1, 0
            version_end = end if last else starts[i + 1] - timedelta(days=1)
            versions.append(
                _Version(
                    issue,
                    incr,
                    "CURR" if last else "SUPER",
                    version_start,
                    version_end,
                    holder,
                    reason if rng.random() < 0.85 or reason == "SUCC" else None,
                )
            )
        if end is None and rng.random() < 0.02:  # an application being processed
            draft_start = _day(rng, EXTRACT_DATE - timedelta(days=60), EXTRACT_DATE + timedelta(days=90))
            versions.append(
                _Version(issue + 1, 0, "DRAFT", max(draft_start, starts[-1] + timedelta(days=1)), None, holder, None)
            )
        wa_type = "FULL" if rng.random() < 0.82 else rng.choice(WA_LIC_TYPES)[0]
        for version in versions:
            self._version_rows(version, wa_type)
        return versions

    def _version_rows(self, v: _Version, wa_type: str) -> None:
        self.emit(
            "NALD_ABS_LIC_VERSIONS",
            AABL_ID=self.id,
            ISSUE_NO=v.issue,
            INCR_NO=v.incr,
            STATUS=v.status,
            EFF_ST_DATE=v.start,
            EFF_END_DATE=v.end,
            WA_ALTY_CODE=wa_type,
            ACON_APAR_ID=v.holder.party,
            ACON_AADD_ID=v.holder.address,
        )
        if v.reason is not None:
            self.emit(
                "NALD_MOD_LOGS",
                AABL_ID=self.id,
                AABV_ISSUE_NO=v.issue,
                AABV_INCR_NO=v.incr,
                ARVN_AABL_ID=None,
                ARVN_VERS_NO=None,
                AMRE_CODE=v.reason,
                AMRE_AMRE_TYPE="LIC",
            )

    # -- parties -----------------------------------------------------------------------------

    def _holder(self, reuse: bool = True) -> _Holder:
        pool = self.state.holders
        if reuse and pool and self.rng.random() < 0.08:  # one holder with several licences
            return self.rng.choice(pool)
        party = self._party(organisation=self.rng.random() < 0.6)
        address = self._address()
        self._contact(party, address)
        holder = _Holder(party, address, self._account(party), "")
        self._invoice_accounts(holder)
        pool.append(holder)
        return holder

    def _agent(self) -> tuple[str, str]:
        rng, pool = self.rng, self.state.agents
        if pool and rng.random() < 0.6:
            return rng.choice(pool)
        surname, town = rng.choice(SURNAMES), rng.choice(self.region.towns)[0]
        name = rng.choice(
            (
                f"{surname} Water Consultants Ltd",
                f"{surname} Associates, Land Agents",
                f"{town} Irrigation Services",
                f'{surname} & {rng.choice(SURNAMES)} "Agri" LLP',
            )
        )
        party = self._emit_party("ORG", name, None, None, None)
        address = self._address()
        self._contact(party, address)
        pool.append((party, address))
        return party, address

    def _party(self, organisation: bool) -> str:
        rng = self.rng
        surname = rng.choice(SURNAMES)
        if organisation:
            return self._emit_party("ORG", self._organisation_name(surname), None, None, None)
        forename = rng.choice(FORENAMES)
        initials = forename[0] if rng.random() < 0.6 else f"{forename[0]} {rng.choice(FORENAMES)[0]}"
        return self._emit_party(
            "PER", surname, rng.choice(SALUTATIONS), initials, None if rng.random() < 0.2 else forename
        )

    def _organisation_name(self, surname: str) -> str:
        rng = self.rng
        other, farm, town = rng.choice(SURNAMES), rng.choice(FARMS), rng.choice(self.region.towns)[0]
        return rng.choice(
            (
                f"{surname} Farms Ltd",
                f"{surname} & Sons",
                f"{surname} and {other} Partnership",
                f"{surname}, {other} & Co",
                f"{town} Golf Club",
                f"{farm} Farm Estate",
                f'The "{farm} Farm" Trust',
                f"{surname} Growers Ltd",
                f"{town} Fisheries Ltd",
                f"{surname} (Farming) Limited",
                f"Trustees of the {surname} Settlement",
            )
        )

    def _emit_party(
        self, kind: str, name: str, salutation: str | None, initials: str | None, forename: str | None
    ) -> str:
        party = str(self.state.next_id("party"))
        self.emit(
            "NALD_PARTIES",
            ID=party,
            APAR_TYPE=kind,
            NAME=name,
            SALUTATION=salutation,
            INITIALS=initials,
            FORENAME=forename,
        )
        return party

    def _address(self) -> str:
        rng, r = self.rng, self.region
        address = str(self.state.next_id("address"))
        town, county, area = rng.choice(r.towns)
        roll = rng.random()
        if roll < 0.45:
            line1 = f"{rng.choice(FARMS)} Farm"
        elif roll < 0.8:
            line1 = f"{rng.randint(1, 120)} {rng.choice(STREETS)}"
        elif roll < 0.92:
            line1 = f"Unit {rng.randint(1, 30)}, {rng.choice(FARMS)} Business Park"
        else:
            line1 = None  # NALD has addresses that start on their second line
        postcode = (
            f"{area}{rng.randint(1, 29)} {rng.randint(0, 9)}"
            f"{rng.choice(_POSTCODE_LETTERS)}{rng.choice(_POSTCODE_LETTERS)}"
        )
        self.emit(
            "NALD_ADDRESSES",
            ID=address,
            ADDR_LINE1=line1,
            ADDR_LINE2=rng.choice(VILLAGES) if line1 is None or rng.random() < 0.6 else None,
            ADDR_LINE3=f"Near {rng.choice(VILLAGES)}" if rng.random() < 0.1 else None,
            ADDR_LINE4=None,
            TOWN=town,
            COUNTY=None if rng.random() < 0.1 else county,
            POSTCODE=None if rng.random() < 0.03 else postcode,
            COUNTRY=rng.choice(("United Kingdom", "England", "Wales")) if rng.random() < 0.12 else None,
        )
        return address

    def _contact(self, party: str, address: str) -> None:
        rng = self.rng
        self.emit("NALD_CONTACTS", APAR_ID=party, AADD_ID=address)
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            code = rng.choice(("TEL", "TEL", "MOB", "EMAIL", "FAX"))
            if code == "EMAIL":
                number = f"{rng.choice(FORENAMES).lower()}.{rng.choice(SURNAMES).lower()}@example.com"
            elif code == "MOB":
                number = f"07{rng.randint(700, 999)} {rng.randint(100000, 999999)}"
            else:
                number = f"01{rng.randint(200, 999)} {rng.randint(100000, 999999)}"
            self.emit("NALD_CONT_NOS", ACON_APAR_ID=party, ACON_AADD_ID=address, ACNT_CODE=code, NO=number)

    def _account(self, party: str) -> str:
        rng = self.rng
        account = str(20000 + self.state.next_id("account"))
        self.emit("NALD_LH_ACCS", ACC_NO=account, ACON_APAR_ID=party)
        if rng.random() < 0.04:
            start = _day(rng, date(1995, 4, 1), date(2020, 3, 31))
            self.emit(
                "NALD_LH_AGRMNTS",
                ALHA_ACC_NO=account,
                AFSA_CODE=rng.choice(("S127", "S130U", "S130S", "S126")),
                EFF_ST_DATE=start,
                EFF_END_DATE=_day(rng, start, EXTRACT_DATE) if rng.random() < 0.3 else None,
            )
        return account

    def _invoice_accounts(self, holder: _Holder) -> None:
        """One invoice account per holder account, sometimes a second that replaced it."""
        rng = self.rng
        for _ in range(2 if rng.random() < 0.12 else 1):
            k = self.state.next_id("customer")
            # The multiplier is prime to 10**8, so different k give different references.
            holder.customer_ref = f"{self.region.ias_letter}{(k * 2654435761 + 1234567) % 10**8:08d}A"
            party, address = (holder.party, holder.address) if rng.random() < 0.8 else self._agent()
            transferred = _day(rng, date(1996, 4, 1), date(2025, 3, 31)) if rng.random() < 0.9 else None
            self.emit(
                "NALD_IAS_INVOICE_ACCS",
                IAS_CUST_REF=holder.customer_ref,
                ALHA_ACC_NO=holder.account,
                IAS_XFER_DATE=transferred,
                ACON_APAR_ID=party,
                ACON_AADD_ID=address,
            )

    def _roles(self, start: date, holder: _Holder) -> None:
        rng = self.rng
        for _ in range(rng.choice((0, 0, 0, 1, 1, 1, 1, 2, 2, 3))):
            roll = rng.random()
            if roll < 0.35:
                party, address = holder.party, holder.address
            elif roll < 0.65:
                party, address = self._agent()
            else:
                party, address = self._party(organisation=False), self._address()
                self._contact(party, address)
            role_start = _day(rng, max(start, date(1990, 1, 1)), EXTRACT_DATE - timedelta(days=31))
            ended = rng.random() < 0.2
            self.emit(
                "NALD_LIC_ROLES",
                AABL_ID=self.id,
                ALRT_CODE=_role_type(rng),
                ACON_APAR_ID=party,
                ACON_AADD_ID=address,
                EFF_ST_DATE=role_start,
                EFF_END_DATE=_day(rng, role_start + timedelta(days=30), EXTRACT_DATE) if ended else None,
            )

    # -- purposes, points, conditions --------------------------------------------------------

    def _points(self) -> list[str]:
        rng, r = self.rng, self.region
        points = []
        for _ in range(rng.choice((1, 1, 1, 1, 2, 2, 3))):
            point = str(self.state.next_id("point"))
            source = rng.choice(("GW", "GW", "SW", "SW", "SW", "TL", "SP"))
            farm, village, river = rng.choice(FARMS), rng.choice(VILLAGES), rng.choice(r.rivers)
            name = rng.choice(
                (
                    f"Borehole at {farm} Farm",
                    f"River {river} at {village}",
                    f"Pond at {farm} Farm, {village}",
                    f"Spring, {farm} Farm",
                    None,
                )
            )
            self.emit(
                "NALD_POINTS",
                ID=point,
                ASRC_CODE=source,
                NGR1_SHEET=rng.choice(r.grid_sheets),
                NGR1_EAST=f"{rng.randint(0, 99999):05d}",
                NGR1_NORTH=f"{rng.randint(0, 99999):05d}",
                LOCAL_NAME=name,
            )
            points.append(point)
        return points

    def _new_purpose(self, points: list[str], start: date) -> _Purpose:
        rng = self.rng
        codes = _purpose(rng)
        used = rng.sample(points, 1 if rng.random() < 0.8 else len(points))
        time_limited = None
        if rng.random() < 0.08:
            first = max(start, date(1990, 1, 1))
            time_limited = (first, _day(rng, first + timedelta(days=730), date(2040, 3, 31)))
        return _Purpose(
            codes=codes,
            period=_period(rng),
            quantity=None if rng.random() < 0.04 else _quantity(rng, 50, 500000),
            notes=self._notes() if rng.random() < 0.12 else None,
            time_limited=time_limited,
            points=[(p, rng.choice(MEANS_OF_ABS)[0]) for p in used],
            conditions=[self._condition() for _ in range(rng.choice((0, 0, 0, 0, 1, 1, 2)))],
            agreement=self._agreement(codes, start),
        )

    def _notes(self) -> str:
        rng = self.rng
        return rng.choice(
            (
                "Abstraction for spray irrigation of potatoes, sugar beet and vegetables.",
                f'Water to be taken only from the "{rng.choice(FARMS)} Pond" reservoir.',
                f"Licence varied {rng.randint(1975, 2015)}, quantities reduced",
                "Between 1 April and 30 September,\nno more than 500 cubic metres in any day.",
                f"See condition {rng.randint(1, 12)}.{rng.randint(1, 5)}",
            )
        )

    def _condition(self) -> tuple[str, str, str | None, str | None, str | None]:
        rng = self.rng
        code, subcode = rng.choice(LIC_COND_TYPES)[:2]
        station = rng.choice(GAUGING_STATIONS)
        if code == "CES":
            flow = f"{rng.randint(1, 400) / 10:.1f}"
            text = (
                f"Abstraction shall cease when the flow in the River {rng.choice(self.region.rivers)} at the "
                f'"{station}" gauging station falls below {flow} megalitres per day.'
            )
            return code, subcode, station, flow, text
        if code == "MCOMP":
            return (
                code,
                subcode,
                None,
                None,
                (
                    "The licence holder shall install a meter, keep it in good working "
                    "order,\nand record readings weekly."
                ),
            )
        if code == "AGG":
            quantity = _quantity(rng, 1000, 900000)
            return code, subcode, quantity, None, f"Aggregate quantity not to exceed {quantity} cubic metres per year."
        return code, subcode, None, None, None if rng.random() < 0.5 else "See licence schedule, part 2."

    def _agreement(self, codes: tuple[str, str, str], start: date) -> tuple[str, date, date | None] | None:
        rng = self.rng
        if codes[2] in TWO_PART_TARIFF_USES and rng.random() < 0.3:
            code = "S127"
        elif rng.random() < 0.03:
            code = rng.choice(("S130U", "S130S", "S126"))
        else:
            return None
        first = _day(rng, max(start, date(1990, 4, 1)), EXTRACT_DATE)
        return code, first, _day(rng, first, EXTRACT_DATE) if rng.random() < 0.2 else None

    def _carry(self, purposes: list[_Purpose], points: list[str]) -> list[_Purpose]:
        """The purposes of the next version: mostly the same, now and then a quantity or a purpose changes."""
        rng = self.rng
        carried = []
        for purpose in purposes:
            if rng.random() < 0.15:
                purpose = replace(purpose, quantity=_quantity(rng, 50, 500000))
            carried.append(purpose)
        if rng.random() < 0.1:
            carried.append(self._new_purpose(points, EXTRACT_DATE - timedelta(days=3650)))
        return carried

    def _purpose_rows(self, version: _Version, purposes: list[_Purpose]) -> None:
        for p in purposes:
            purpose = str(self.state.next_id("purpose"))
            st_day, st_month, end_day, end_month = p.period
            timeltd_start, timeltd_end = p.time_limited or (None, None)
            self.emit(
                "NALD_ABS_LIC_PURPOSES",
                ID=purpose,
                AABV_AABL_ID=self.id,
                AABV_ISSUE_NO=version.issue,
                AABV_INCR_NO=version.incr,
                APUR_APPR_CODE=p.codes[0],
                APUR_APSE_CODE=p.codes[1],
                APUR_APUS_CODE=p.codes[2],
                PERIOD_ST_DAY=st_day,
                PERIOD_ST_MONTH=st_month,
                PERIOD_END_DAY=end_day,
                PERIOD_END_MONTH=end_month,
                TIMELTD_ST_DATE=timeltd_start,
                TIMELTD_END_DATE=timeltd_end,
                NOTES=p.notes,
                ANNUAL_QTY=p.quantity,
            )
            for point, means in p.points:
                self.emit("NALD_ABS_PURP_POINTS", AABP_ID=purpose, AAIP_ID=point, AMOA_CODE=means)
            for order, (code, subcode, param1, param2, text) in enumerate(p.conditions, 1):
                self.emit(
                    "NALD_LIC_CONDITIONS",
                    ID=str(self.state.next_id("condition")),
                    AABP_ID=purpose,
                    ACIN_CODE=code,
                    ACIN_SUBCODE=subcode,
                    PARAM1=param1,
                    PARAM2=param2,
                    TEXT=text,
                    DISP_ORD=order,
                )
            if p.agreement is not None:
                code, first, last = p.agreement
                self.emit("NALD_LIC_AGRMNTS", AABP_ID=purpose, AFSA_CODE=code, EFF_ST_DATE=first, EFF_END_DATE=last)

    # -- returns -----------------------------------------------------------------------------

    def _returns(
        self,
        start: date,
        end: date | None,
        limit: date,
        versions: list[_Version],
        purposes: list[_Purpose],
        points: list[str],
    ) -> None:
        rng = self.rng
        first = start
        if start < date(1995, 4, 1) and rng.random() < 0.7:  # return requirements came later than many licences
            first = min(_day(rng, date(1995, 4, 1), date(2012, 3, 31)), limit)
        starts = [first]
        succession = next((v.start for v in versions if v.reason == "SUCC"), None)
        if succession is not None and succession > first and rng.random() < 0.6:
            starts.append(succession)
        elif rng.random() < 0.3 and first + timedelta(days=365) < limit - timedelta(days=30):
            starts.append(_day(rng, first + timedelta(days=365), limit - timedelta(days=30)))
        requirements = [self._requirement(purposes, points) for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))]
        for number, version_start in enumerate(starts, 1):
            last = number == len(starts)
            version_end = end if last else starts[number] - timedelta(days=1)
            self.emit(
                "NALD_RET_VERSIONS",
                AABL_ID=self.id,
                VERS_NO=number,
                STATUS="CURR" if last else "SUPER",
                EFF_ST_DATE=version_start,
                EFF_END_DATE=version_end,
            )
            self._return_mod_log(number, version_start == succession)
            if number > 1 and rng.random() < 0.3:  # the new version replaced a requirement
                requirements = [*requirements[:-1], self._requirement(purposes, points)]
            for requirement in requirements:
                self._format(number, version_start, version_end, end, requirement)

    def _return_mod_log(self, number: int, succession: bool) -> None:
        rng = self.rng
        if succession:
            reason = "SUCC"
        elif rng.random() < 0.2:
            return
        else:
            reason = "NEW" if number == 1 else _later_reason(rng)
        self.emit(
            "NALD_MOD_LOGS",
            AABL_ID=None,
            AABV_ISSUE_NO=None,
            AABV_INCR_NO=None,
            ARVN_AABL_ID=self.id,
            ARVN_VERS_NO=number,
            AMRE_CODE=reason,
            AMRE_AMRE_TYPE="RET",
        )

    def _requirement(self, purposes: list[_Purpose], points: list[str]) -> _Requirement:
        rng = self.rng
        used = rng.sample(purposes, 1 if rng.random() < 0.85 else len(purposes))
        farm, village = rng.choice(FARMS), rng.choice(VILLAGES)
        return _Requirement(
            frequency=_frequency(rng),
            production_month=_production_month(rng),
            period=_period(rng),
            site=rng.choice(
                (
                    f"Borehole at {farm} Farm",
                    f"{farm} Farm, {village}",
                    f"Intake at {village}",
                    f'"{farm} Pond", {village}',
                )
            ),
            descr=None if rng.random() < 0.3 else f"{_USE_NAME[used[0].codes[2]]}, {farm} Farm",
            two_part_tariff="Y" if any(p.codes[2] in TWO_PART_TARIFF_USES for p in used) else "N",
            time_limited=rng.random() < 0.05,
            purposes=[p.codes for p in used],
            points=rng.sample(points, 1 if rng.random() < 0.85 else len(points)),
            lines=rng.random() < 1 / 3,
        )

    def _format(
        self,
        version_no: int,
        version_start: date,
        version_end: date | None,
        licence_end: date | None,
        spec: _Requirement,
    ) -> None:
        rng = self.rng
        fmt = str(self.state.next_id("format"))
        timeltd_start = timeltd_end = None
        if spec.time_limited:
            timeltd_start = _day(rng, version_start, version_start + timedelta(days=1100))
            timeltd_end = _day(rng, timeltd_start + timedelta(days=365), timeltd_start + timedelta(days=4400))
        st_day, st_month, end_day, end_month = spec.period
        self.emit(
            "NALD_RET_FORMATS",
            ID=fmt,
            ARVN_AABL_ID=self.id,
            ARVN_VERS_NO=version_no,
            ARTC_REC_FREQ_CODE=spec.frequency,
            FORM_PRODN_MONTH=spec.production_month,
            ABS_PERIOD_ST_DAY=st_day,
            ABS_PERIOD_ST_MONTH=st_month,
            ABS_PERIOD_END_DAY=end_day,
            ABS_PERIOD_END_MONTH=end_month,
            SITE_DESCR=spec.site,
            DESCR=spec.descr,
            TPT_FLAG=spec.two_part_tariff,
            TIMELTD_ST_DATE=timeltd_start,
            TIMELTD_END_DATE=timeltd_end,
        )
        for prim, sec, use in spec.purposes:
            self.emit(
                "NALD_RET_FMT_PURPOSES",
                ARTY_ID=fmt,
                APUR_APPR_CODE=prim,
                APUR_APSE_CODE=sec,
                APUR_APUS_CODE=use,
                PURP_ALIAS=f"{_USE_NAME[use]} ({rng.choice(FARMS)})" if rng.random() < 0.2 else None,
            )
        for point in spec.points:
            self.emit("NALD_RET_FMT_POINTS", ARTY_ID=fmt, AAIP_ID=point)
        # The legacy format range: the version's, cut by the time limit and the licence end.
        first = max(version_start, timeltd_start) if timeltd_start else version_start
        ends = [d for d in (version_end, timeltd_end, licence_end) if d is not None]
        self._form_logs(fmt, spec, first, min(ends) if ends else None)

    def _form_logs(self, fmt: str, spec: _Requirement, first: date, last: date | None) -> None:
        rng = self.rng
        cycles = list(_cycles(first, last, spec.summer)) if last is None or first <= last else []
        completed = [c for c in cycles if c[1] < EXTRACT_DATE]
        with_lines = set(completed[-2:]) if spec.lines else set()
        for cycle in cycles:
            date_from, date_to = cycle
            pieces = [cycle]
            if cycle in completed and rng.random() < 0.02 and (date_to - date_from).days > 60:
                middle = date_from + (date_to - date_from) // 2  # a form replaced halfway through the cycle
                pieces = [(date_from, middle), (middle + timedelta(days=1), date_to)]
            for piece_from, piece_to in pieces:
                received = self._received(piece_to)
                self.emit(
                    "NALD_RET_FORM_LOGS",
                    ARTY_ID=fmt,
                    DATE_FROM=piece_from,
                    DATE_TO=piece_to,
                    RECD_DATE=received,
                    MONTHLY_RET_QTY=None if rng.random() < 0.7 else _quantity(rng, 0, 40000),
                    FORM_PROD_ST_DATE=piece_from,
                )
                if cycle in with_lines and received is not None:
                    self._lines(fmt, spec.frequency, piece_from, piece_to)

    def _received(self, date_to: date) -> date | None:
        rng = self.rng
        if date_to >= EXTRACT_DATE or rng.random() < 0.05:
            return None
        return min(date_to + timedelta(days=rng.randint(1, 75)), EXTRACT_DATE - timedelta(days=1))

    def _lines(self, fmt: str, frequency: str, date_from: date, date_to: date) -> None:
        rng = self.rng
        months = {"Q": 3, "A": 12}.get(frequency, 1)
        for end in _period_ends(date_from, date_to, months):
            quantity = None if rng.random() < 0.03 else f"{rng.randint(0, 30000) / 10:.1f}"
            self.emit(
                "NALD_RET_LINES",
                ARFL_ARTY_ID=fmt,
                ARFL_DATE_FROM=date_from,
                RET_DATE=f"{end.year}{end.month:02d}{end.day:02d}000000",
                RET_QTY=quantity,
            )

    # -- charging ----------------------------------------------------------------------------

    def _charging(
        self, start: date, end: date | None, limit: date, versions: list[_Version], purposes: list[_Purpose]
    ) -> None:
        rng = self.rng
        first = max(start, _day(rng, date(1989, 4, 1), date(2010, 3, 31)))
        if first > limit:
            first = start
        starts = [first]
        if first + timedelta(days=366) <= limit:
            starts += _days_between(rng, first + timedelta(days=366), limit, rng.choice((0, 0, 0, 1, 1, 2)))
        in_force = [v for v in versions if v.status != "DRAFT"]
        charged = []
        for number, version_start in enumerate(starts, 1):
            last = number == len(starts)
            holder = next(v.holder for v in reversed(in_force) if v.start <= version_start or v is in_force[0])
            charged.append(
                self._charge_version(
                    number,
                    "CURR" if last else "SUPER",
                    version_start,
                    end if last else starts[number] - timedelta(days=1),
                    holder,
                    purposes,
                )
            )
        if end is None and rng.random() < 0.02:  # drafts are never billed
            draft_start = max(EXTRACT_DATE - timedelta(days=30), starts[-1] + timedelta(days=1))
            self._charge_version(len(starts) + 1, "DRAFT", draft_start, None, in_force[-1].holder, purposes)
        # Drawn after every other row of the licence, so adding the bills moved none of those.
        self._bills(charged)

    def _charge_version(
        self, number: int, status: str, start: date, end: date | None, holder: _Holder, purposes: list[_Purpose]
    ) -> _Charged:
        rng = self.rng
        billed = None
        if status == "SUPER":
            billed = end
        elif status == "CURR" and start <= _LAST_BILLED and rng.random() < 0.8:
            billed = _LAST_BILLED
        self.emit(
            "NALD_CHG_VERSIONS",
            AABL_ID=self.id,
            VERS_NO=number,
            STATUS=status,
            EFF_ST_DATE=start,
            EFF_END_DATE=end,
            AIIA_IAS_CUST_REF=holder.customer_ref,
            AIIA_ALHA_ACC_NO=holder.account,
            APPORTIONMENT="Y" if rng.random() < 0.05 else "N",
            IN_ERROR_STATUS="Y" if rng.random() < 0.03 else "N",
            BILLED_UPTO_DATE=billed,
        )
        elements = [self._charge_element(number, start, end, purpose) for purpose in purposes[:3]]
        return _Charged(start, end, billed, holder.customer_ref, elements)

    def _charge_element(self, version_no: int, start: date, end: date | None, p: _Purpose) -> _Element:
        rng = self.rng
        element = str(self.state.next_id("element"))
        st_day, st_month, end_day, end_month = p.period
        season = "A" if (st_month, end_month) == (1, 12) else ("W" if st_month >= 10 else "S")
        billable = None
        if p.quantity is not None and rng.random() < 0.2:
            billable = f"{float(p.quantity) * rng.uniform(0.2, 1):.2f}"
        timeltd_start, timeltd_end = p.time_limited or (None, None)
        source = rng.choice(("U", "U", "U", "U", "U", "U", "U", "S", "S", "T"))
        self.emit(
            "NALD_CHG_ELEMENTS",
            ID=element,
            ACVR_AABL_ID=self.id,
            ACVR_VERS_NO=version_no,
            ABS_PERIOD_ST_DAY=st_day,
            ABS_PERIOD_ST_MONTH=st_month,
            ABS_PERIOD_END_DAY=end_day,
            ABS_PERIOD_END_MONTH=end_month,
            AUTH_ANN_QTY=p.quantity or "0",
            BILLABLE_ANN_QTY=billable,
            ASFT_CODE=season,
            ASFT_CODE_DERIVED=season,
            ASRF_CODE=source,
            ALSF_CODE=_LOSS_FACTOR[p.codes[2]],
            APUR_APPR_CODE=p.codes[0],
            APUR_APSE_CODE=p.codes[1],
            APUR_APUS_CODE=p.codes[2],
            FCTS_OVERRIDDEN="Y" if rng.random() < 0.03 else "N",
            TIMELTD_ST_DATE=timeltd_start,
            TIMELTD_END_DATE=timeltd_end,
            DESCR=None if rng.random() < 0.4 else f"{_USE_NAME[p.codes[2]]}, {rng.choice(FARMS)} Farm",
        )
        agreement = None
        if p.agreement is not None and rng.random() < 0.7:
            agreement, _, _ = p.agreement
            self.emit("NALD_CHG_AGRMNTS", ACEL_ID=element, AFSA_CODE=agreement, EFF_ST_DATE=start, EFF_END_DATE=end)
        return _Element(
            element, p.period, billable or p.quantity or "0", season, source, _LOSS_FACTOR[p.codes[2]], agreement
        )

    # -- bills (PRESROC) ---------------------------------------------------------------------

    def _bills(self, charged: list[_Charged]) -> None:
        """The bills of the charge versions, for each year a version was in force on 1 April and billed.

        A bill in the year's annual run with a line per element; now and then a supplementary one; and
        for two-part tariff (S127) elements a second-part bill in the summer or winter run, with the
        return it was based on. Only some licences have any (see :data:`_BILLED_SHARE`).
        """
        rng = self.rng
        if rng.random() >= _BILLED_SHARE:
            return
        s130 = rng.choice(_S130_AGREEMENTS) if rng.random() < 0.03 else None
        previous_customer = charged[0].customer_ref
        for version in charged:
            agreements = {e.id: self._bill_agreement(e) for e in version.elements}
            new_owner = version.customer_ref != previous_customer
            previous_customer = version.customer_ref
            for year in BILLED_YEARS:
                year_start, year_end = date(year - 1, 4, 1), date(year, 3, 31)
                if year_start < version.start:
                    continue
                if (
                    version.billed is None
                    or version.billed < year_start
                    or (version.end is not None and version.end < year_start)
                ):
                    break
                last = year_end if version.end is None else min(version.end, year_end)
                lines = _BillLines(year, version.customer_ref, year_start, last, agreements, s130, new_owner)
                new_owner = False  # flagged on the new holder's first bill only
                self._bill("annual", version.elements, lines)
                if rng.random() < 0.03:  # a correction in the year's supplementary run, mostly a credit
                    self._bill(
                        "supplementary", version.elements, lines, credit=rng.random() < 0.65, share=rng.uniform(0.05, 1)
                    )
                for kind in ("summer", "winter"):
                    second_part = [
                        e for e in version.elements if e.agreement == "S127" and (e.season == "S") == (kind == "summer")
                    ]
                    for element in self._bill(kind, second_part, lines):
                        self._tpt_return(element, year, kind)

    def _bill_agreement(self, element: _Element) -> tuple[str | None, str | None]:
        """ELEMENT_AGRMNTS and ELEMENT_AGRMNT_VALS of the element's lines ("x <factor>", as NALD writes them)."""
        if element.agreement == "S127":
            return "S127", "x 0.5"
        if element.agreement == "S126" or self.rng.random() < 0.02:  # S126 is agreed on the bill too
            return "S126", f"x 0.{self.rng.randint(50, 95)}"
        return None, None

    def _bill(
        self, kind: str, elements: list[_Element], lines: _BillLines, credit: bool = False, share: float = 1.0
    ) -> list[_Element]:
        """A bill in the region's ``kind`` run of the year, with a line per element that abstracts in the
        part of the year billed (no bill when none does); returns the elements billed."""
        elements = [e for e in elements if _period_days(e.period, lines.first, lines.last)]
        if not elements:
            return elements
        rng, region = self.rng, self.region.code
        run = bill_run_number(region, lines.year, kind)
        header = str(self.state.next_id("bill_header"))
        suc, eiuc = _unit_charges(region, lines.year)
        second_part = BILL_RUN_KINDS[kind][0] == "R"
        trans_type = "C" if credit else "I"
        sign = -1 if credit else 1
        net = 0
        for e in elements:
            agreement, agreement_value = lines.agreements[e.id]
            authorised_days = _period_days(e.period, date(lines.year - 1, 4, 1), date(lines.year, 3, 31))
            billable_days = _period_days(e.period, lines.first, lines.last)
            volume = f"{float(e.quantity) * rng.uniform(0.05, 1):.3f}" if second_part else e.quantity
            # Pence, so the bill's NET_AMOUNT is the sum of its lines to the penny.
            base = (
                float(volume)
                * float(_SEASON_VALUES[e.season])
                * float(_LOSS_VALUES[e.loss])
                * billable_days
                / authorised_days
                * share
                * sign
                * 100
            )
            factor = float(agreement_value[2:]) if agreement_value is not None else 1.0
            standard = round(base * suc * float(_SOURCE_VALUES[e.source]) * factor)
            compensation = (
                0 if second_part or self.water_undertaker else round(base * eiuc * float(_EIUC_SOURCE_VALUES[e.source]))
            )
            net += standard + compensation
            self.emit(
                "NALD_BILL_TRANS",
                ID=str(self.state.next_id("bill_line")),
                ABHD_ID=header,
                ABRN_BILL_RUN_NO=run,
                LIC_ID=self.id,
                ACEL_ID=e.id,
                TRANS_TYPE=trans_type,
                BILL_ST_DATE=lines.first,
                BILL_END_DATE=lines.last,
                ABS_PER_DAYS=authorised_days,
                BILLABLE_DAYS=billable_days,
                BILLABLE_ANN_QTY=volume,
                ELEMENT_AGRMNTS=agreement,
                ELEMENT_AGRMNT_VALS=agreement_value,
                LH_ACC_AGRMNTS=lines.s130,
                NEW_OWN_FLAG="Y" if lines.new_owner else None,
                SRCE_VALUE=_SOURCE_VALUES[e.source],
                SEAS_VALUE=_SEASON_VALUES[e.season],
                LOSS_VALUE=_LOSS_VALUES[e.loss],
                SUC_RATE=f"{suc:.5f}",
                EIUC_VALUE=f"{eiuc:.5f}",
                EIUC_SRCE_VALUE=_EIUC_SOURCE_VALUES[e.source],
                FINAL_A1_BILLABLE_AMOUNT=_pounds(standard),
                FINAL_A2_BILLABLE_AMOUNT=_pounds(compensation),
            )
        # Bill numbers: the region's letter, the run (Annual, Supplementary, Two-part tariff), Invoice or Credit.
        run_letter = "T" if second_part else BILL_RUN_KINDS[kind][0]
        bill_no = None if rng.random() < 0.04 else f"{self.region.ias_letter}{run_letter}{trans_type}{int(header):07d}"
        self.emit(
            "NALD_BILL_HEADERS",
            ID=header,
            ABRN_BILL_RUN_NO=run,
            IAS_CUST_REF=lines.customer_ref,
            BILL_NO=bill_no,
            BILL_TYPE=trans_type,
            FIN_YEAR=lines.year,
            NET_AMOUNT=_pounds(net),
        )
        return elements

    def _tpt_return(self, element: _Element, year: int, kind: str) -> None:
        """The latest return a second-part charge was based on: in the summer it names, or after it."""
        (from_month, from_day), (to_month, to_day) = _TPT_SUMMER[self.region.code in (6, 7)]
        summer_end = date(year - 1, to_month, to_day)
        if kind == "summer":
            day = _day(self.rng, date(year - 1, from_month, from_day), summer_end)
        else:
            day = _day(self.rng, summer_end + timedelta(days=1), date(year, 3, 31))
        self.emit("NALD_TPT_RETURNS", ACEL_ID=element.id, FIN_YEAR=year, LATEST_RET_DATE=day)


# --------------------------------------------------------------------------- synthesize

_REFERENCE = frozenset(_reference_rows())
_PER_LICENCE = tuple(t.name for t in NALD_TABLES if t.name not in _REFERENCE)


class _Spool:
    """Each per-licence table's rows parked on disk until its turn comes to be written.

    Batches are length-prefixed ``marshal`` blobs: ``marshal.load`` on a file reads it a value at a
    time, several times slower than ``loads`` on the whole batch.
    """

    def __init__(self, directory: Path) -> None:
        self.files = {name: open(directory / f"{name}.marshal", "w+b") for name in _PER_LICENCE}

    def flush(self, buffers: dict[str, list[Row]]) -> None:
        for name, rows in buffers.items():
            if rows:
                blob = marshal.dumps(rows)
                self.files[name].write(len(blob).to_bytes(8, "little") + blob)
                rows.clear()

    def rows(self, name: str) -> Iterator[Row]:
        file = self.files[name]
        file.flush()
        file.seek(0)
        while size := file.read(8):
            yield from marshal.loads(file.read(int.from_bytes(size, "little")))

    def close(self) -> None:
        for file in self.files.values():
            file.close()


def _generate(licences: int, seed: int, spool: _Spool) -> None:
    states = {r.code: _RegionState(r) for r in REGIONS}
    buffers: dict[str, list[Row]] = {name: [] for name in _PER_LICENCE}
    for n in range(licences):
        rng = random.Random(f"{seed}:{n}")
        _Licence(n, rng, states[_region(rng).code], buffers).build()
        if (n + 1) % _BATCH == 0:
            spool.flush(buffers)
    spool.flush(buffers)


def synthesize(licences: int, seed: int = 1, workdir: Path | None = None) -> Generator[tuple[str, Iterable[Row]]]:
    """Every table of ``NALD_TABLES``, in that order: its name and its rows (lists of strings, no header).

    The licences are generated at the first ``next()`` and parked in a temporary directory
    (under ``workdir`` if given), so memory stays flat at any size. Read each table's rows before
    asking for the next table: the parked rows go when the generator ends.
    """
    if licences < 0:
        raise ValueError(f"licences must be 0 or more, got {licences}")
    reference = _reference_rows()
    with tempfile.TemporaryDirectory(prefix="nald-synth-", dir=workdir) as directory:
        spool = _Spool(Path(directory))
        try:
            _generate(licences, seed, spool)
            for table in NALD_TABLES:
                yield table.name, reference[table.name] if table.name in reference else spool.rows(table.name)
        finally:
            spool.close()


# --------------------------------------------------------------------------- writing


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[str]], chunk_chars: int = 1 << 16) -> Iterator[bytes]:
    """A NALD CSV file in chunks: the header, then the rows; quoted only where a value needs it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= chunk_chars:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def write_extract(out: Path, password: str | None, members: Iterable[tuple[str, Iterable[bytes] | bytes]]) -> None:
    """Write ``out``: an AES-encrypted zip holding ``NALD.zip``, which holds ``members`` (name, content).

    Content is streamed; the inner zip is built in a temporary file beside ``out`` and the outer one
    replaces ``out`` only when complete. ``password=None`` leaves the outer zip unencrypted (for tests
    of what the importer does with one).
    """
    out = Path(out)
    descriptor, inner = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".inner.zip", dir=out.parent)
    os.close(descriptor)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with zipfile.ZipFile(inner, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, content in members:
                if isinstance(content, (bytes, bytearray)):
                    archive.writestr(name, bytes(content))
                    continue
                # force_zip64: the size is not known up front, and without it zipfile refuses a member past 2 GiB.
                with archive.open(name, "w", force_zip64=True) as member:
                    for chunk in content:
                        member.write(chunk)
        encryption = {"encryption": pyzipper.WZ_AES} if password is not None else {}
        # Stored: the inner zip is compressed already.
        with pyzipper.AESZipFile(partial, "w", compression=pyzipper.ZIP_STORED, **encryption) as archive:
            if password is not None:
                archive.setpassword(password.encode())
            archive.write(inner, INNER_ZIP)
        os.replace(partial, out)
    finally:
        os.unlink(inner)
        if partial.exists():
            partial.unlink()


def _audit_lines(seed: int) -> Iterator[bytes]:
    """A small NALD_RET_LINES_AUDIT: in every real extract, never loaded."""
    rng = random.Random(f"{seed}:audit")
    header = ("ARFL_ARTY_ID", "FGAC_REGION_CODE", "ARFL_DATE_FROM", "RET_DATE", "RET_QTY", "AUDIT_DATE", "AUDIT_USER")
    rows = []
    for _ in range(25):
        start = date(rng.randint(2018, 2025), 4, 1)
        end = _last_day_of_month(start)
        rows.append(
            [
                str(rng.randint(1, 5000)),
                str(rng.randint(1, 8)),
                _nald_date(start),
                f"{end.year}{end.month:02d}{end.day:02d}000000",
                f"{rng.randint(0, 30000) / 10:.1f}",
                _nald_date(_day(rng, end, EXTRACT_DATE)),
                rng.choice(("NALDADMIN", "RETURNS1", "BATCH")),
            ]
        )
    return csv_lines(header, rows)


def _counted(rows: Iterable[Row], counts: dict[str, int], name: str) -> Iterator[Row]:
    counts[name] = 0
    for row in rows:
        counts[name] += 1
        yield row


def write_synthetic_extract(out: Path, password: str | None, licences: int, seed: int = 1) -> dict[str, int]:
    """Write a synthetic NALD extract of ``licences`` licences to ``out``; the row count of each NALD table."""
    out = Path(out)
    counts: dict[str, int] = {}

    def members() -> Iterator[tuple[str, Iterable[bytes]]]:
        for name, rows in tables:
            table = BY_NAME[name]
            yield table.file_name, csv_lines(table.columns, _counted(rows, counts, name))
        yield AUDIT_FILE, _audit_lines(seed)

    tables = synthesize(licences, seed, workdir=out.parent)
    try:
        write_extract(out, password, members())
    finally:
        tables.close()  # on failure, so the parked rows go now rather than at garbage collection
    return counts
