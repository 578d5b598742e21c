"""Fine-tuning PAMNet on your own data (issue 7).

    from pamnet import finetune
    cfg = finetune.FinetuneConfig(data="sol.csv", targets=["logS"], units={"logS": "log mol/L"})
    result = finetune.run(cfg)            # or in the background: pamnet.jobs.submit(cfg)
    result.checkpoint                      # user_dir()/sol-logS.pt, listed by the Predict page

Modules: `data` (CSV/SDF/complex tables with per-row errors), `heads` (new output
heads, normalization, freezing), `run` (one run, resumable), `export` (checkpoint,
model card, validation predictions), `shard` (split a library by torchrun rank,
gather on rank 0).
"""

from pamnet._callable import make_callable
from pamnet.finetune.config import (
    FRESH,
    FinetuneConfig,
    FinetuneResult,
    metrics_row,
    output_path,
    safe_name,
)
from pamnet.finetune.data import (
    Cancelled,
    ColumnMap,
    FinetuneData,
    RowError,
    Table,
    check_rows,
    guess_columns,
    load_dataset,
    read_table,
    resolve_columns,
    split_indices,
)
from pamnet.finetune.export import model_card, val_predictions
from pamnet.finetune.heads import (
    FREEZE_GROUPS,
    Adapted,
    adapt,
    data_normalization,
    freeze,
    fresh,
    param_group,
)
from pamnet.finetune.run import prepare_data, run
from pamnet.finetune.shard import gather, rank_and_world, shard, unshard

__all__ = [
    "FREEZE_GROUPS",
    "FRESH",
    "Adapted",
    "Cancelled",
    "ColumnMap",
    "FinetuneConfig",
    "FinetuneData",
    "FinetuneResult",
    "finetune",
    "RowError",
    "Table",
    "adapt",
    "check_rows",
    "data_normalization",
    "freeze",
    "fresh",
    "gather",
    "guess_columns",
    "load_dataset",
    "metrics_row",
    "model_card",
    "output_path",
    "param_group",
    "prepare_data",
    "rank_and_world",
    "read_table",
    "resolve_columns",
    "run",
    "safe_name",
    "shard",
    "split_indices",
    "unshard",
    "val_predictions",
]


def finetune(data, targets, **options) -> FinetuneResult:
    """Fine-tune in this process: `finetune("sol.csv", ["logS"], smiles_col="smiles", epochs=5)`.

    options are `FinetuneConfig` fields; for a background job use `pamnet.jobs.submit`.
    """
    targets = [targets] if isinstance(targets, str) else list(targets)
    return run(FinetuneConfig(data=str(data), targets=tuple(targets), **options))


make_callable(__name__, "finetune")
