"""`pamnet checkpoints`: the shipped and fine-tuned checkpoints."""

from __future__ import annotations

import json

from pamnet.commands._options import OUTPUT


def register(sub) -> None:
    p = sub.add_parser("checkpoints", help="list available checkpoints", parents=[OUTPUT])
    p.set_defaults(func=run)


def run(args) -> int:
    from pamnet.registry import list_checkpoints, shipped_dir, user_dir

    infos = list_checkpoints()
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "name": i.name,
                        "path": str(i.path),
                        "origin": i.origin,
                        "task": i.task,
                        "targets": i.targets,
                        "units": i.units,
                        "geometry": i.geometry,
                        "specialists": i.specialists,
                    }
                    for i in infos
                ],
                indent=1,
            )
        )
        return 0
    if not infos:
        print(f"no checkpoints in {shipped_dir()} or {user_dir()}")
        return 0
    for i in infos:
        targets = ", ".join(f"{t}*" if t in i.specialists else t for t in i.targets[:12])
        print(f"{i.name:28s} {i.origin:10s} {i.task:9s} {targets}")
    if any(i.specialists for i in infos):
        print("* answered by a specialist, a network trained for that target alone")
    return 0
