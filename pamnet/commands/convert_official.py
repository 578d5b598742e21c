"""`pamnet convert-official SRC --config JSON -o DST`."""

from __future__ import annotations

import json
from pathlib import Path

from pamnet.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser(
        "convert-official",
        help="convert an official PAMNet state dict to a PAMNet Studio checkpoint",
        description="Convert a state dict saved by the official PAMNet code into our checkpoint format.",
    )
    p.add_argument("src", help="official state dict (.pt)")
    p.add_argument(
        "--config", required=True, help="JSON file (or inline JSON) with the official Config fields"
    )
    p.add_argument("-o", "--output", required=True, help="where to write our checkpoint")
    p.add_argument("--target", default="y", help="name of the predicted quantity (default: y)")
    p.add_argument("--unit", default="", help="its unit, e.g. eV or pK")
    p.set_defaults(func=run)


def run(args) -> int:
    from pamnet.checkpoint import save_checkpoint
    from pamnet.compat import official

    text = Path(args.config).read_text() if Path(args.config).is_file() else args.config
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--config is neither a JSON file nor JSON text: {exc}") from None
    model = official.load(args.src, config)
    save_checkpoint(
        args.output,
        model,
        targets=[args.target],
        units={args.target: args.unit} if args.unit else {},
        metadata={
            "source": "official PAMNet state dict",
            "official_config": config,
            "converted_from": str(args.src),
        },
    )
    print(
        f"wrote {args.output} ({model.config.task}, {model.config.variant}, dim {model.config.dim}, "
        f"{model.config.n_layer} layers)"
    )
    return 0
