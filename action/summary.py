"""Markdown for the GitHub job summary from secretsync's JSON reports (names and actions only:
the reports never hold a value).

    summary.py check FILE     # which declared secrets are missing, per environment
    summary.py missing FILE   # ENV:NAME,… for the step output
    summary.py plan FILE      # each environment's plan
    summary.py apply FILE     # each environment's outcome, item by item
"""

import json
import sys

# The most rows shown per environment; GitHub caps a summary at 1 MiB.
MAX_ROWS = 200
SIGNS = {
    "create": "+",
    "update": "~",
    "delete": "-",
    "adopt": "?",
    "drift": "!",
    "orphan": ".",
    "unchanged": " ",
}


def cell(text):
    """A table cell: no line breaks, pipes escaped."""
    return str(text).replace("\n", " ").replace("|", "\\|")


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows[:MAX_ROWS]:
        out.append("| " + " | ".join(cell(c) for c in r) + " |")
    if len(rows) > MAX_ROWS:
        out.append(f"\n…and {len(rows) - MAX_ROWS} more (the full report: `secretsync plan --json`)")
    return "\n".join(out)


def counts(summary):
    keys = ["create", "update", "delete", "drift", "adopt", "orphan", "unchanged"]
    return ", ".join(f"{summary.get(k, 0)} {k}" for k in keys)


def errors(doc):
    return [f"- **{cell(e.get('env', '?'))}**: {cell(e.get('error', ''))}" for e in doc.get("errors", [])]


def check(doc):
    if doc is None:
        return "### secretsync check\n\nNo report: see the step's log.\n"
    lines = ["### secretsync check", ""]
    for e in doc.get("environments", []):
        missing = e.get("missing", [])
        if missing:
            lines.append(f"- ❌ **{cell(e['name'])}** ({e.get('type', '')}): missing {', '.join(f'`{m}`' for m in missing)}")
        else:
            lines.append(f"- ✅ **{cell(e['name'])}** ({e.get('type', '')}): every declared secret has a value")
    return "\n".join(lines) + "\n"


def missing(doc):
    if doc is None:
        return ""
    return ",".join(f"{e['name']}:{m}" for e in doc.get("environments", []) for m in e.get("missing", []))


def plan(doc):
    if doc is None:
        return "### secretsync plan\n\nNo report: see the step's log.\n"
    out = []
    for e in doc.get("environments", []):
        p = e["plan"]
        rows = [
            (f"`{SIGNS.get(i['action'], '')}`", f"`{i['name']}`", i["action"] + (" (refused)" if i.get("blocked") else ""), i.get("reason", ""))
            for i in p.get("items", [])
            if i["action"] != "unchanged" or i.get("blocked")
        ]
        out.append(f"### secretsync plan: {cell(p['env'])}\n")
        out.append(f"`{cell(p['backend'])}` — {counts(e.get('summary', {}))}\n")
        out.append(table(["", "secret", "action", "why"], rows) if rows else "Nothing to change.")
        out.append("")
    out.extend(errors(doc))
    return "\n".join(out) + "\n"


def apply(doc):
    if doc is None:
        return "### secretsync apply\n\nNo report: see the step's log.\n"
    out = []
    for e in doc.get("environments", []):
        r = e["report"]
        results = r.get("results", [])
        rows = [
            (f"`{x['name']}`", x["action"], x["status"], (x.get("error") or {}).get("message", ""))
            for x in results
            if x["status"] != "unchanged"
        ]
        by = {}
        for x in results:
            by[x["status"]] = by.get(x["status"], 0) + 1
        done = ", ".join(f"{n} {s}" for s, n in sorted(by.items())) or "nothing to do"
        out.append(f"### secretsync apply: {cell(r['env'])}\n")
        out.append(f"`{cell(r['backend'])}` — {done}\n")
        out.append(table(["secret", "action", "status", "error"], rows) if rows else "Nothing changed.")
        out.append("")
    out.extend(errors(doc))
    return "\n".join(out) + "\n"


def main():
    mode, path = sys.argv[1], sys.argv[2]
    doc = load(path)
    text = {"check": check, "missing": missing, "plan": plan, "apply": apply}[mode](doc)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
