"""The census extract (dialogs.census) as the files a council returns: CSV and an XML fragment.

Both use the DfE's field names and the census's date format (xs:date, YYYY-MM-DD); a date not known is
empty (CSV) or left out (XML); ICPCnotRequired is "true" or "false".

The XML is a fragment to merge into the council's census return, not a whole return: the bot holds
the Section 47 module only (no gender, ethnicity, referral...). Its root is `Children`, the census's own
element for the list of children; under it one `Child` per case reference, in the census's order:

    <Children>
      <Child>
        <ChildIdentifiers><LAchildID>LL-1</LAchildID></ChildIdentifiers>
        <CINdetails>
          <Section47>
            <S47ActualStartDate>2026-01-05</S47ActualStartDate>
            <InitialCPCtarget>2026-01-26</InitialCPCtarget>
            <DateOfInitialCPC>2026-01-20</DateOfInitialCPC>   (left out when not held)
            <ICPCnotRequired>false</ICPCnotRequired>
          </Section47>
          (a child with several enquiries in the year: one Section47 each, by start)
        </CINdetails>
      </Child>
    </Children>

Merged into a return, each Section47 goes into that child's CINdetails, after the elements the
council's system writes before it (CINreferralDate ... CINPlanDates) and before ReferralNFA.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import date
from enum import StrEnum

from dialogs.census import CensusRow, CensusYear

FIELDS = ("LAchildID", "S47ActualStartDate", "InitialCPCtarget", "DateOfInitialCPC", "ICPCnotRequired")
ROOT = "Children"


class CensusFormat(StrEnum):
    CSV = "csv"
    XML = "xml"


def render(rows: Sequence[CensusRow], fmt: CensusFormat, year: CensusYear) -> bytes:
    return to_csv(rows) if fmt == CensusFormat.CSV else to_xml(rows, year)


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def _flag(value: bool) -> str:
    return "true" if value else "false"


def to_csv(rows: Sequence[CensusRow]) -> bytes:
    """A header of the census's field names, then one line per enquiry (RFC 4180: CRLF lines)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for r in rows:
        writer.writerow(
            (
                r.la_child_id,
                _day(r.s47_start),
                _day(r.icpc_target),
                _day(r.icpc_date),
                _flag(r.icpc_not_required),
            )
        )
    return text.getvalue().encode("utf-8")


def to_xml(rows: Sequence[CensusRow], year: CensusYear) -> bytes:
    """The fragment the module's docstring shows, UTF-8 with its declaration."""
    root = ET.Element(ROOT)
    root.append(
        ET.Comment(
            f" Children in Need census {year.year} ({year.start} to {year.end}): the Section 47 module "
            "only, to merge into the council's return "
        )
    )
    details: dict[str, ET.Element] = {}  # each child's CINdetails, in the rows' order
    for r in rows:
        if r.la_child_id not in details:
            child = ET.SubElement(root, "Child")
            ids = ET.SubElement(child, "ChildIdentifiers")
            ET.SubElement(ids, "LAchildID").text = r.la_child_id
            details[r.la_child_id] = ET.SubElement(child, "CINdetails")
        s47 = ET.SubElement(details[r.la_child_id], "Section47")
        ET.SubElement(s47, "S47ActualStartDate").text = _day(r.s47_start)
        ET.SubElement(s47, "InitialCPCtarget").text = _day(r.icpc_target)
        if r.icpc_date is not None:
            ET.SubElement(s47, "DateOfInitialCPC").text = _day(r.icpc_date)
        ET.SubElement(s47, "ICPCnotRequired").text = _flag(r.icpc_not_required)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
