"""`pamnet targets [--checkpoint NAME]`: what a checkpoint predicts, in plain words."""

from __future__ import annotations

import json

from pamnet.commands._options import OUTPUT


def register(sub) -> None:
    p = sub.add_parser(
        "targets",
        help="what each predicted target means, with its unit",
        description="The targets a checkpoint predicts (default: the shipped QM9 model), "
        "their units and plain-language meanings, and for a fine-tuned model where each "
        "head comes from.",
        parents=[OUTPUT],
    )
    p.add_argument("--checkpoint", default=None, help="name from `pamnet checkpoints` or a path")
    p.set_defaults(func=run)


def run(args) -> int:
    from pamnet import registry
    from pamnet.checkpoint import read_payload, stale_targets
    from pamnet.targets import meaning

    path = registry.resolve(args.checkpoint)
    payload = read_payload(path)
    meta = payload.get("metadata") or {}
    units = payload.get("units") or {}
    new = set((meta.get("finetune") or {}).get("new_heads") or [])
    stale = set(stale_targets(meta))
    rows = []
    for t in payload.get("targets") or []:
        origin = "trained here" if t in new or not meta.get("finetune") else "from the base"
        rows.append({
            "target": t, "unit": units.get(t, ""), "meaning": meaning(t) or "(your data)",
            "head": origin, "shown": t not in stale,
        })  # fmt: skip
    if args.format == "json":
        print(json.dumps({"checkpoint": path.stem, "targets": rows}, indent=1))
        return 0
    print(f"{path.stem}: {len(rows)} targets")
    for r in rows:
        note = "" if r["shown"] else "  [not shown: its layers were retrained]"
        head = f" ({r['head']})" if meta.get("finetune") else ""
        print(f"  {r['target']:8s} {r['unit']:10s} {r['meaning']}{head}{note}")
    return 0
