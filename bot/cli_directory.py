"""`python -m bot directory ...` (filled in by the directory work)."""


def register(sub) -> None:
    pass
