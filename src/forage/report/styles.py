"""The CSS that forage's HTML pages share: the trace tree's (``TRACE_CSS``, for
``forage.report.trace_html``) and the page's (``PAGE_CSS``: type, tables), used by the sweep
report (``forage.report.sweep_report``) and the service's trace viewer (``forage.serve.viewer``).

Not here: any page's own rules (each page adds its few), markup.
"""

TRACE_CSS = """
details{margin:2px 0 2px 1em}
summary{cursor:pointer}
pre{white-space:pre-wrap;background:#f8f8f8;padding:4px;margin:2px 0;font-size:0.85em}
.pruned>summary{color:#999}
details.task.pruned{opacity:0.6}
.badge{font-size:0.75em;padding:0 5px;border-radius:3px;margin-left:4px}
.pruned-badge{background:#fde2e2;color:#a33}
.action{margin:2px 0}
.kind{font-weight:bold;font-size:0.8em}
.bar{display:inline-block;width:160px;height:9px;background:#eee;border:1px solid #ccc;
 margin-right:6px;vertical-align:middle}
.bar>span{display:block;height:100%;background:#3b7dd8}
.pruned .bar>span{background:#aaa}
.doc{margin-left:1em}
"""

PAGE_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}
th:first-child,td:first-child,td.l{text-align:left}
th{background:#f3f3f3}
"""
