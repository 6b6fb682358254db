"""Markdown for the GitHub job summary from secretsync's JSON reports (names and actions only:
the reports never hold a value).

    summary.py check FILE     # which declared secrets are missing, per environment
    summary.py missing FILE   # ENV:NAME,… for the step output
    summary.py plan FILE      # each environment's plan
    summary.py apply FILE     # each environment's outcome, item by item
    summary.py teardown FILE  # what a teardown deleted, and the instances it kept
"""

import collections
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


def table(header, rows, full):
    """A Markdown table of at most MAX_ROWS rows; `full` names the command with the rest."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows[:MAX_ROWS]:
        out.append("| " + " | ".join(cell(c) for c in r) + " |")
    if len(rows) > MAX_ROWS:
        out.append(f"\n…and {len(rows) - MAX_ROWS} more (the full report: `{full}`)")
    return "\n".join(out)


def section(kind, env, backend, tally, header, rows, empty):
    """One environment's part of a plan or apply summary."""
    return [
        f"### secretsync {kind}: {cell(env)}\n",
        f"`{cell(backend)}` — {tally}\n",
        table(header, rows, f"secretsync {kind} --json") if rows else empty,
        "",
    ]


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
        tally = counts(e.get("summary", {}))
        out += section("plan", p["env"], p["backend"], tally, ["", "secret", "action", "why"], rows, "Nothing to change.")
    out.extend(errors(doc))
    return "\n".join(out) + "\n"


def apply(doc, kind="apply"):
    if doc is None:
        return f"### secretsync {kind}\n\nNo report: see the step's log.\n"
    out = []
    for e in doc.get("environments", []):
        r = e["report"]
        results = r.get("results", [])
        rows = [
            (f"`{x['name']}`", x["action"], x["status"], (x.get("error") or {}).get("message", ""))
            for x in results
            if x["status"] != "unchanged"
        ]
        by = collections.Counter(x["status"] for x in results)
        tally = ", ".join(f"{n} {s}" for s, n in sorted(by.items())) or "nothing to do"
        out += section(kind, r["env"], r["backend"], tally, ["secret", "action", "status", "error"], rows, "Nothing changed.")
    out.extend(errors(doc))
    return "\n".join(out) + "\n"


def teardown(doc):
    text = apply(doc, "teardown")
    kept = (doc or {}).get("kept", [])
    if kept:
        text += "Kept: " + ", ".join(f"`{cell(k['instance'])}` ({k['secrets']} secrets)" for k in kept) + "\n"
    return text


def main():
    mode, path = sys.argv[1], sys.argv[2]
    doc = load(path)
    text = {"check": check, "missing": missing, "plan": plan, "apply": apply, "teardown": teardown}[mode](doc)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
