"""What an import reports about a row: an error (nothing is imported) or an exclusion."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ImportIssue:
    """A problem that stops the import, located so that a coordinator can fix it.

    ``row`` counts as a spreadsheet does: the header is row 1, the first case row 2; 0 means
    the problem concerns a whole file (a missing column, an unsafe zip member).
    """

    message: str
    file: str = ""
    row: int = 0
    field: str = ""
    value: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        where = [self.file] if self.file else []
        if self.row:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field {self.field}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class ImportRejected(Exception):
    """The import was refused; nothing was imported. ``issues`` says why, row by row."""

    def __init__(self, issues: list[ImportIssue], *, report: dict | None = None) -> None:
        self.issues = issues
        self.report = report or {}
        first = str(issues[0]) if issues else "rejected"
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(first + more)


class IssueCollector:
    """Collects issues up to a cap, so one pass reports a manifest's problems together."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.issues: list[ImportIssue] = []
        self.dropped = 0

    def add(self, issue: ImportIssue) -> None:
        if len(self.issues) < self.cap:
            self.issues.append(issue)
        else:
            self.dropped += 1

    @property
    def full(self) -> bool:
        return len(self.issues) >= self.cap

    def __bool__(self) -> bool:
        return bool(self.issues)

    def raise_if_any(self, *, report: dict | None = None) -> None:
        if not self.issues:
            return
        issues = list(self.issues)
        if self.dropped:
            issues.append(
                ImportIssue(
                    message=f"{self.dropped} further errors not listed; fix these and retry"
                )
            )
        raise ImportRejected(issues, report=report)
