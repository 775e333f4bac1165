"""Write the bundled sample leads (xlsx and csv) and the starter copies; run from the repo root.

The rows are realistic outreach leads, with the cells users really have (quotes, line breaks,
emoji, right-to-left names, ZIP codes with leading zeros, dates) and four deliberate mistakes:
a speed of 2.0, a speed of "fast", a blank voice id and a background colour written "blue".
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

HERE = Path(__file__).resolve().parent
STARTER = HERE.parent / "merge" / "starter"

AVATAR = "Daisy-inskirt-20220818"
VOICE = "2d5b0e6cf36f460aa7fc47e3eee4ba54"
PHOTO = "7a8c0e51b2d64e3f9c1a2b3c4d5e6f70"

HEADER = [
    "first_name",
    "last_name",
    "company",
    "email",
    "city",
    "zip",
    "signup_date",
    "product",
    "avatar_id",
    "voice_id",
    "speed",
    "background",
    "photo_id",
    "audio_url",
    "image_url",
    "video_url",
    "notes",
]

PEOPLE = [
    ("Ava", "Thompson", "Brightside Dental", "Boston", "02134", "Invisalign consults"),
    ("Liam", "O'Connor", 'Acme "Rockets" Ltd', "Dublin", "D02 X285", "launch analytics"),
    ("Sofia", "García", "Café Olé", "Madrid", "28013", "online ordering"),
    ("Noah", "Kim", "Kimchi & Co.", "Seoul", "04524", "loyalty cards"),
    ("Yara", "حداد", "شركة الأفق", "Amman", "11118", "appointment reminders"),
    ("Ethan", "Walker", "Walker Roofing", "Denver", "80202", "storm-season quotes"),
    ("Mia", "Rossi", "Trattoria Rossi 🍝", "Milan", "20121", "table bookings"),
    ("Lucas", "Müller", "Müller GmbH", "Berlin", "10115", "fleet tracking"),
    ("Chloe", "Dubois", "Atelier Dubois", "Lyon", "69002", "custom orders"),
    ("Daniel", "Cohen", "כהן ובניו", "Tel Aviv", "6100000", "invoice automation"),
    ("Emma", "Smith", "Smith, Jones & Partners", "London", "EC1A 1BB", "client onboarding"),
    ("Oliver", "Brown", "Brown's Bikes", "Portland", "97201", "service bookings"),
    ("Hana", "Sato", "Sato Design 🎨", "Tokyo", "100-0001", "portfolio reviews"),
    ("James", "Wilson", "Wilson Legal", "Chicago", "60601", "intake forms"),
    ("Zoe", "Martin", "Zoe's Yoga", "Austin", "78701", "class passes"),
    ("Arjun", "Patel", "Patel Pharmacy", "Leicester", "LE1 1AA", "repeat prescriptions"),
    ("Isla", "Campbell", "Campbell Kilts", "Edinburgh", "EH1 1YZ", "made-to-measure"),
    ("Mateo", "López", "López Logistics", "Mexico City", "06600", "route planning"),
    ("Grace", "Lee", "Lee & Lee CPAs", "San Francisco", "94105", "tax season"),
    ("Henry", "Clark", "Clark Farms", "Des Moines", "50309", "farm-to-table boxes"),
    ("Amelia", "Davies", "Davies Dance School", "Cardiff", "CF10 1AA", "term enrolment"),
    ("Leo", "Novak", "Novak IT", "Prague", "110 00", "help-desk"),
    ("Freya", "Hansen", "Hansen Hygge", "Copenhagen", "1050", "gift cards"),
    ("Samuel", "Okafor", "Okafor Solar", "Lagos", "100001", "panel installs"),
    ("Nora", "Berg", "Berg Bakery", "Oslo", "0150", "pre-orders"),
]


def lead_rows() -> list[list[object]]:
    """Build the data rows, mistakes included."""
    rows: list[list[object]] = []
    for i, (first, last, company, city, zip_code, product) in enumerate(PEOPLE):
        email = f"{first.lower()}.{i}@example.com"
        signed = dt.date(2026, 1, 5) + dt.timedelta(days=11 * i)
        notes = "Met at the expo.\nFollow up in spring." if i == 1 else ""
        rows.append(
            [
                first,
                last,
                company,
                email,
                city,
                zip_code,
                signed,
                product,
                AVATAR,
                VOICE,
                1.0 if i % 3 else 1.1,
                "#f6f6fc" if i % 2 else "#0e1b2c",
                PHOTO,
                f"https://example.com/audio/{i:03d}.mp3",
                "https://example.com/backgrounds/office.jpg",
                "https://example.com/backgrounds/loop.mp4",
                notes,
            ]
        )
    rows[6][10] = 2.0  # row 8: above the maximum speed
    rows[11][9] = ""  # row 13: no voice id
    rows[16][11] = "blue"  # row 18: not a hex colour
    rows[21][10] = "fast"  # row 23: not a number
    return rows


def write_xlsx(path: Path, rows: list[list[object]]) -> None:
    """Write the leads as a styled workbook with a second sheet of notes."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leads"
    sheet.append(HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for row_cells in sheet.iter_rows(min_row=2, min_col=7, max_col=7):
        for cell in row_cells:
            cell.number_format = "yyyy-mm-dd"
    for index, width in enumerate([12, 12, 26, 28, 14, 10, 12, 22], start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    about = book.create_sheet("About")
    about.append(["These leads are made up for the avatar-merge demo."])
    book.save(path)


def write_csv(path: Path, rows: list[list[object]]) -> None:
    """Write the same leads as UTF-8 CSV, dates as ISO text."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([v.isoformat() if isinstance(v, dt.date) else _text(v) for v in row])


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def main() -> None:
    """Write every sample file."""
    rows = lead_rows()
    write_xlsx(HERE / "leads.xlsx", rows)
    write_csv(HERE / "leads.csv", rows)
    STARTER.mkdir(exist_ok=True)
    shutil.copyfile(HERE / "leads.xlsx", STARTER / "leads.xlsx")
    shutil.copyfile(HERE.parent / "templates" / "outreach.json", STARTER / "template.json")


if __name__ == "__main__":
    main()
