"""The trace viewer: one self-contained HTML page per stored run (``GET /view/{id}``).

It shows the question, the answer, the run's budget as a bar, the per-node ledger as a table and
the task tree drawn by ``forage.report.trace_html`` (the bench report's renderer): pruned branches
greyed and badged, each node's spent compute as a bar on the run's budget, calls, searches and the
returned documents' texts opening on demand. Every text from a run (question, model output,
documents) is HTML-escaped, and the page's one script carries a per-response nonce that the
service's Content-Security-Policy requires, so a document cannot inject markup or script.

Not here: storing runs (``forage.serve.traces``), HTTP (``forage.serve.app``).
"""

from __future__ import annotations

import html
from typing import Any

from forage.report.styles import PAGE_CSS, TRACE_CSS
from forage.report.trace_html import fmt, render_task
from forage.serve.traces import TraceRecord

_CSS = TRACE_CSS + PAGE_CSS + """
tr.pruned td{color:#999}
.answer{font-size:1.2em}
"""

_JS = """
document.addEventListener('DOMContentLoaded',()=>{
 document.getElementById('expand').onclick=()=>document.querySelectorAll('details').forEach(d=>d.open=true);
 document.getElementById('collapse').onclick=()=>document.querySelectorAll('details').forEach(d=>d.open=false);
});
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _nodes_table(record: TraceRecord) -> str:
    rows = ["<table class='nodes'><tr><th>node</th><th>goal</th><th>status</th><th>spent</th>"
            "<th>own budget</th><th>llm calls</th><th>searches</th><th>refused</th><th>tokens</th>"
            "</tr>"]
    for n in record.nodes():
        limit = "—" if n["budget_limit"] is None else fmt(float(n["budget_limit"]), 1)
        status = f"{n['status']}{' (pruned)' if n['pruned'] else ''}"
        rows.append(
            f"<tr class='node{' pruned' if n['pruned'] else ''}'><td>{_e(n['node'])}</td>"
            f"<td class='l'>{_e(n['goal'][:120])}</td><td class='l'>{_e(status)}</td>"
            f"<td>{fmt(n['spent'], 1)}</td><td>{limit}</td><td>{n['llm_calls']}</td>"
            f"<td>{n['search_calls']}</td><td>{n['refused_calls']}</td><td>{n['tokens']}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def render_page(record: TraceRecord, *, nonce: str) -> str:
    """The viewer page of ``record``; its script runs only with ``nonce`` allowed by the CSP."""
    ledger = record.ledger
    spent = record.spent
    share = 0.0 if record.budget <= 0 else min(1.0, spent / record.budget)
    searches = f"of at most {record.max_search_calls} " if record.max_search_calls else ""
    rungs = ""
    if record.cascade:
        ran = ", ".join(f"{_e(r.get('rung'))} ({fmt(r.get('spent', 0.0), 1)} of "
                        f"{fmt(r.get('grant', 0.0), 1)})" for r in record.cascade.get("rungs", []))
        rungs = (f"<p>adaptive cascade: answered at rung <b>{_e(record.cascade.get('rung'))}"
                 f"</b> · rungs run: {ran} · the tree below is the answering rung's</p>")
    head = (
        f"<h1>forage trace <code>{_e(record.id)}</code></h1>"
        f"<p>{_e(record.model)} over corpus {_e(record.corpus)} · status <b>{_e(record.status)}"
        f"</b> · knob {_e(record.knob)}</p>{rungs}"
        f"<p>question: {_e(record.question)}</p>"
        f"<p class='answer'>answer: <b>{_e(record.answer) or '(none)'}</b></p>"
        f"<p><span class='bar run-budget' style='width:320px'><span style='width:{100 * share:.1f}%'>"
        f"</span></span> spent {fmt(spent, 1)} of {fmt(record.budget, 1)} compute units · "
        f"{int(ledger.get('llm_calls', 0))} model calls · {int(ledger.get('search_calls', 0))} of "
        f"{searches}searches · {int(ledger.get('prompt_tokens', 0))} prompt "
        f"+ {int(ledger.get('completion_tokens', 0))} completion tokens · "
        f"{fmt(ledger.get('llm_seconds', 0.0), 2)} s of model time + "
        f"{fmt(ledger.get('llm_wait_seconds', 0.0), 2)} s waiting for the model</p>"
    )
    if record.trace:
        tree = render_task(record.trace, scale=record.budget, documents=record.documents)
        body = (f"<h2>per-node ledger</h2>{_nodes_table(record)}<h2>task tree</h2>"
                "<p><button id='expand'>expand all</button> "
                f"<button id='collapse'>collapse all</button></p><div class='tree'>{tree}</div>")
    else:
        body = "<p>no task tree: the run did not finish (its ledger above is what it spent).</p>"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>forage trace {_e(record.id)}</title><style>{_CSS}</style>"
            f'<script nonce="{nonce}">{_JS}</script></head><body>{head}{body}</body></html>')
