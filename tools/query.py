"""`make query`: run the archive's report queries (consumers/history/queries/*.sql) on Athena.

    python -m tools.query [name ...]     # default: every report query

On the local engine Athena runs them with DuckDB; on AWS (STACK_NAME, no AWS_ENDPOINT_URL) with
Trino: the queries use only SQL both accept.
"""

import argparse
import sys

from tools.hub import QUERIES, QueryFailed, local_consumers

# Queries that need parameters (run by make run, not here).
PARAMETERISED = {"image_status"}


def print_rows(rows: list[dict[str, str | None]]) -> None:
    if not rows:
        print("  (no rows)")
        return
    header = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in header]
    print("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        print("  " + "  ".join(str(row[h]).ljust(w) for h, w in zip(header, widths, strict=True)))


def main() -> None:
    names = sorted(p.stem for p in QUERIES.glob("*.sql") if p.stem not in PARAMETERISED)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="name", help=f"one of: {', '.join(names)}")
    args = parser.parse_args()
    if unknown := sorted(set(args.names) - set(names)):
        parser.error(f"no report query {', '.join(unknown)}: choose from {', '.join(names)}")
    _, archive, _ = local_consumers()
    for name in args.names or names:
        print(f"{name} ({QUERIES.name}/{name}.sql):")
        try:
            print_rows(archive.report(name))
        except QueryFailed as error:
            sys.exit(f"{name} failed: {error}")


if __name__ == "__main__":
    main()
