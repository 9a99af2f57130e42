"""The record as a printable batch record (PDF) whose footer carries the record's hash.
Imported only when a PDF is asked for: fpdf2 and its font tools cost the API about
3 s of import and tens of MB of memory it would otherwise hold idle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fpdf import FPDF


class _BatchRecord(FPDF):
    record_hash = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.cell(
            0, 5, f"record sha256 {self.record_hash}   page {self.page_no()}/{{nb}}", align="C"
        )


def _text(value: Any) -> str:
    """Core PDF fonts speak Latin-1; anything else is shown escaped, never dropped."""
    return str(value).encode("latin-1", "backslashreplace").decode("latin-1")


def pdf(record: dict[str, Any]) -> bytes:
    """The record as a printable batch record: the workflow, its results, a chart of
    when each task ran, the signatures and the history."""
    doc = _BatchRecord(format="A4")
    doc.record_hash = record["record_sha256"]
    doc.alias_nb_pages()
    doc.set_auto_page_break(auto=True, margin=16)
    doc.add_page()
    wf = record["workflow"]
    doc.set_font("Helvetica", "B", 15)
    _line(doc, 8, _text(f"Batch record: {wf['name']}"))
    doc.set_font("Helvetica", size=9)
    for label, value in [
        ("Workflow", wf["id"]),
        ("Status", wf["status"]),
        ("Release", wf["release"]),
        ("Submitted by", f"{wf['created_by']} at {wf['created_at']}"),
        ("Finished", wf["finished_at"] or "-"),
        ("Document sha256", record["document_sha256"]),
        ("Results sha256", record["results_sha256"] or "-"),
    ]:
        _line(doc, 5, _text(f"{label}: {value}"))
    _section(doc, "Results")
    for task in record["tasks"]:
        doc.set_font("Helvetica", "B", 9)
        doc.cell(
            0,
            5,
            _text(f"{task['name']} ({task['executor']}): {task['status']}"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        doc.set_font("Helvetica", size=8)
        for key, value in (task["outputs"] or {}).items():
            _line(doc, 4, _text(f"    {key} = {value}"))
    _section(doc, "Timeline")
    _timeline(doc, record["tasks"])
    _section(doc, "Signatures")
    if not record["signatures"]:
        doc.cell(0, 5, "none", new_x="LMARGIN", new_y="NEXT")
    for s in record["signatures"]:
        _line(
            doc,
            5,
            _text(
                f"{s['full_name']} ({s['signer']}) - {s['meaning']} at {s['at']}"
                f"{' - STALE: results changed since' if s['stale'] else ''}"
                f"{': ' + s['comment'] if s['comment'] else ''}"
            ),
        )
    _section(doc, "History (hash-chained)")
    doc.set_font("Courier", size=6.5)
    for h in record["history"]:
        what = h["task_name"] or "workflow"
        _line(
            doc,
            3.4,
            _text(
                f"#{h['id']} {h['at']} {what}: {h['from_status'] or '-'} -> {h['to_status']}"
                f" by {h['actor']}{' (' + h['reason'] + ')' if h['reason'] else ''}"
                f"  {(h['hash'] or 'legacy')[:16]}"
            ),
        )
    return bytes(doc.output())


def _line(doc: FPDF, height: float, text: str) -> None:
    """Wrapped text from the left margin; the next line starts below it."""
    doc.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")


def _section(doc: FPDF, title: str) -> None:
    doc.ln(3)
    doc.set_font("Helvetica", "B", 11)
    doc.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", size=9)


def _timeline(doc: FPDF, tasks: list[dict[str, Any]]) -> None:
    """A bar per attempt, from its start to its end, on one time axis."""
    spans = [
        (
            t["name"],
            datetime.fromisoformat(a["started_at"]),
            datetime.fromisoformat(a["finished_at"]),
            a["status"],
        )
        for t in tasks
        for a in t["attempts"]
        if a["started_at"] and a["finished_at"]
    ][:60]
    if not spans:
        doc.cell(0, 5, "no attempt ran", new_x="LMARGIN", new_y="NEXT")
        return
    start = min(s[1] for s in spans)
    total = max((max(s[2] for s in spans) - start).total_seconds(), 1e-3)
    left, width = doc.l_margin + 40, doc.epw - 40
    doc.set_font("Helvetica", size=7)
    for name, began, ended, outcome in spans:
        y = doc.get_y()
        doc.cell(40, 4, _text(name[:28]))
        x = left + width * (began - start).total_seconds() / total
        w = max(width * (ended - began).total_seconds() / total, 0.6)
        colour = (46, 125, 50) if outcome == "succeeded" else (198, 40, 40)
        doc.set_fill_color(*colour)
        doc.rect(x, y + 0.8, w, 2.6, style="F")
        doc.ln(4)
    doc.cell(0, 4, f"0 s to {total:.3f} s", new_x="LMARGIN", new_y="NEXT")
