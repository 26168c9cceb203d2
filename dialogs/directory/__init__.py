"""The directory of who is who: people, their agency and role, and their ids on each platform.

Surfaces turn a platform user into an Actor with `resolve` (or `resolve_or_register`, which can add
someone whose email domain belongs to a known agency). Operators manage it with
`python -m bot directory add|list|import`. Every function works in the caller's transaction and
never commits. Audit entries carry ids, agency and role only: never names or emails.
"""

from dialogs.directory.cast import DEMO_PEOPLE, DemoPerson, seed_demo
from dialogs.directory.csv_import import CSV_OPTIONAL, CSV_REQUIRED, import_csv
from dialogs.directory.domain_rules import (
    DEFAULT_ROLE_FOR_AGENCY,
    agency_for_email,
    parse_domain_rules,
    resolve_or_register,
)
from dialogs.directory.people import (
    PLATFORMS,
    DirectoryError,
    actor_of,
    add_person,
    check_agency_and_role,
    find_by_email,
    get_person,
    identities_by_person,
    link_identity,
    list_people,
    resolve,
)

__all__ = [
    "CSV_OPTIONAL",
    "CSV_REQUIRED",
    "DEFAULT_ROLE_FOR_AGENCY",
    "DEMO_PEOPLE",
    "PLATFORMS",
    "DemoPerson",
    "DirectoryError",
    "actor_of",
    "add_person",
    "agency_for_email",
    "check_agency_and_role",
    "find_by_email",
    "get_person",
    "identities_by_person",
    "import_csv",
    "link_identity",
    "list_people",
    "parse_domain_rules",
    "resolve",
    "resolve_or_register",
    "seed_demo",
]
