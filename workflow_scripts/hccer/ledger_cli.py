"""`hccer ledger`: gather the model jobs' ledger parts into the study ledger."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("ledger", help="gather per-model ledger parts into one validated ledger",
                       description="Concatenate prediction-ledger CSVs written by the model "
                       "jobs, validate the result against the ledger schema, write one CSV.")
    p.add_argument("--parts", nargs="*", default=[], help="ledger CSV parts")
    p.add_argument("--out", required=True, help="the study ledger CSV")
    p.set_defaults(func=_ledger)


def _ledger(args) -> int:
    from hccer.jsonio import write_text
    from hccer.ledger import gather

    df = gather(args.parts, args.out)
    write_text(args.out, df.to_csv(index=False))
    print(f"ledger: {len(df)} rows, {df['model'].nunique()} models from {len(args.parts)} "
          "part(s)")
    return 0
