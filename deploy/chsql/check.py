#!/usr/bin/env python3
"""Run incidentd's ClickHouse statements on a current ClickHouse engine.

Reads the statements internal/chsql's test listed (readmodel/sql.go and
projector/sql.go) and ran on clickhouse-server 18.16 (JSON: name, sql, rows, ordered, result),
runs each in order in chDB (ClickHouse in process, from PyPI) on a fresh
database directory, and fails if chDB refuses one, or if a query's rows
differ from 18.16's (compared as strings; in order where the query defines
an order). Usage: check.py STATEMENTS.json
"""

import json
import sys
import tempfile

import chdb
from chdb import session as chs


# Differences between 18.16 and current servers that the projector's use of
# the statement does not depend on: statement name -> (0-based result
# columns compared by whether they are zero only, why). Each is reported on
# every run; remove an entry once the statement no longer differs.
KNOWN = {
    "incident facts": ({5}, "f_acks = countIf(kind = 'acknowledged') counts duplicate event rows: "
                           "current servers drop duplicates inserted in one batch into a ReplacingMergeTree "
                           "(optimize_on_insert, on by default since 20.x), 18.16 keeps them until a merge; "
                           "the projector only asks f_acks > 0"),
    "event versions": ({3}, "count() per version counts duplicate event rows, which current servers drop at "
                            "insert (optimize_on_insert) and 18.16 keeps until a merge; incidentd verify "
                            "only uses which versions are present"),
}


def mask(rows_, cols):
    """Rows with the given columns reduced to whether they are zero."""
    return [[("0" if v == "0" else "non-zero") if i in cols else v for i, v in enumerate(r)] for r in rows_]


def rows(result):
    """Rows of a JSONCompactEachRow result, every value as a string."""
    out = []
    for line in result.data().splitlines():
        if line.strip():
            out.append([v if isinstance(v, str) else json.dumps(v) for v in json.loads(line)])
    return out


def main(path):
    with open(path) as f:
        stmts = json.load(f)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="chsql-") as d:
        s = chs.Session(d)
        version = rows(s.query("SELECT version()", "JSONCompactEachRow"))[0][0]
        print(f"chDB {chdb.__version__}, ClickHouse {version}: {len(stmts)} statements")
        for st in stmts:
            name, sql = st["name"], st["sql"]
            try:
                # Integers as JSON numbers, not quoted strings, so they
                # print as 18.16's do.
                res = s.query(sql + ("\nSETTINGS output_format_json_quote_64bit_integers = 0" if st["rows"] else ""),
                              "JSONCompactEachRow")
            except Exception as e:  # chDB raises its own error types
                failures += 1
                print(f"FAIL {name}: ClickHouse {version} refuses it: {e}\n{sql}\n")
                continue
            if not st["rows"]:
                continue
            got, want = rows(res), st.get("result") or []
            if not st["ordered"]:
                got, want = sorted(got), sorted(want)
            if name in KNOWN and got != want:
                cols, why = KNOWN[name]
                print(f"known difference in {name!r}, columns {sorted(cols)}: {why}")
                got, want = mask(got, cols), mask(want, cols)
            elif name in KNOWN:
                print(f"known difference in {name!r} no longer differs: remove it from KNOWN in {__file__}")
            if got != want:
                failures += 1
                print(f"FAIL {name}: rows differ from 18.16's\n{sql}\n  18.16: {want}\n  {version}: {got}\n")
        s.close()
    passed = len(stmts) - failures
    print(f"chsql: {passed} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
