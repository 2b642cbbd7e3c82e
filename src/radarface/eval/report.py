"""The evaluation report: REPORT_DIR/report.md (tables and figures), metrics.json (every number
with its provenance), figures/ and cache/ (the rows' predictions, reused by a rerun)."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from radarface import params as P
from radarface.eval import evaluate as E
from radarface.eval.cosine import DEFINITIONS, cosine_analysis
from radarface.eval.metrics import mean_baseline, random_baseline
from radarface.eval.paper import PAPER_TABLE1, TABLE1_COLUMNS
from radarface.io import atomic_replace_dir, jsonable, provenance, write_json

FORMAT = "radarface-evaluate"
COLUMN_TITLES = {
    "shape": "shape",
    "expression": "expression",
    "translation": "translation",
    "rotation": "rotation",
    "total": "total",
    "point_dist_mm": "point dist, mm",
}
MEAN, RANDOM = "Baseline (mean)", "Baseline (random)"
TRUTH = "Ground truth"


def previous_cache(out: Path) -> Path | None:
    """The cache of an earlier report at `out`; an `out` that holds anything else is refused."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return None
    metrics = out / "metrics.json"
    try:
        is_report = json.loads(metrics.read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        is_report = False
    if not is_report:
        raise ValueError(f"{out} exists and is not a radarface evaluate report; give a new --out")
    return out / "cache"


def _unique_names(datasets: list[E.EvalData]) -> list[str]:
    names = [d.name for d in datasets]
    return [n if names.count(n) == 1 else f"{n}-{i}" for i, n in enumerate(names)]


def _faces_front_side(model: Any, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radar-frame vertices (V, 3) of a (26,) vector's face without pose, front and side."""
    from radarface.facemodel import place_in_radar_frame
    from radarface.fit.outputs import SIDE_VIEW

    face = model.vertices(vectors[P.SHAPE], vectors[P.EXPRESSION])
    zero = np.zeros(3)
    return (
        place_in_radar_frame(model, face, zero, zero),
        place_in_radar_frame(model, face, zero, SIDE_VIEW),
    )


def evaluate_to_dir(
    runs: list[str | Path],
    data: list[str | Path],
    out: str | Path,
    *,
    decoder: str | Path | None = None,
    face_model_path: str | Path | None = None,
    options: E.EvalOptions | None = None,
) -> dict[str, Any]:
    """Evaluate `runs` on `data` into the report directory `out` (new, empty, or an earlier
    report over the same inputs, whose cached predictions it reuses); returns metrics.json."""
    import torch

    from radarface.facemodel import load_face_model, resolve_face_model_path
    from radarface.fit.runs import load_run
    from radarface.render import check_device

    options = options or E.EvalOptions()
    out = Path(out)
    if not runs or not data:
        raise ValueError("give at least one --runs RUN and one --data DIR")
    old_cache = previous_cache(out)
    check_device(options.device)
    device = torch.device(options.device)
    model = load_face_model(resolve_face_model_path(face_model_path))
    eval_runs = E.load_runs([Path(r) for r in runs])
    decoder_run = None if decoder is None else load_run(decoder, ("decoder",))
    if "learned" in options.refine:
        for run in eval_runs:
            if decoder_run is None and run.run.stage != "autoencoder":
                raise ValueError(f"--refine learned needs --decoder RUN for {run.run.path}")
    grid = eval_runs[0].run.dataset.grid  # captures are imaged on the runs' pixels
    datasets = [E.load_data(Path(d), grid, options.limit, options.device) for d in data]
    for d in datasets:
        for run in eval_runs:
            E.check_pairing(run, d, model)
    for run in eval_runs:
        run.run.network.to(device)
    if decoder_run is not None:
        decoder_run.network.to(device)
    names = _unique_names(datasets)
    metrics: dict[str, Any] = {
        "format": FORMAT,
        **provenance(
            created_utc=datetime.datetime.now(datetime.UTC).isoformat(),
            torch=torch.__version__,
            numpy=np.__version__,
            face_model={"name": model.name, "hash": model.content_hash},
            options=options,
            decoder=None if decoder_run is None else str(decoder_run.path),
        ),
        "runs": {
            r.label: {
                "path": str(r.run.path),
                "stage": r.run.stage,
                "input": r.run.image,
                "hash": r.hash,
                "trained_on": json.loads((r.run.path / "config.json").read_text()).get("data_dir"),
            }
            for r in eval_runs
        },
        "datasets": {},
        "paper_table1": {
            k: dict(zip(TABLE1_COLUMNS, v, strict=True)) for k, v in PAPER_TABLE1.items()
        },
        "runtimes_s": {},
    }
    figures: dict[str, list[str]] = {}
    with atomic_replace_dir(out) as tmp:
        (tmp / "cache").mkdir()
        (tmp / "figures").mkdir()
        for name, d in zip(names, datasets, strict=True):
            rows: dict[str, E.Prediction] = {}
            for run in eval_runs:
                for method in options.refine:
                    key = E.cache_key(run, d, method, options)
                    cached = None if old_cache is None else old_cache / f"{key}.npz"
                    prediction = E.predict(run, d, method, model, decoder_run, options, cached)
                    target = tmp / "cache" / f"{key}.npz"
                    if prediction.cached:
                        shutil.copyfile(cached, target)
                    else:
                        E.save_prediction(target, prediction)
                    rows[E.row_label(run, method)] = prediction
            metrics["datasets"][name], figures[name] = _dataset_section(
                name, d, rows, eval_runs, model, options, tmp / "figures"
            )
        metrics["runtimes_s"] = _runtimes(eval_runs, decoder_run, datasets, model, options)
        write_json(tmp / "metrics.json", metrics)
        (tmp / "report.md").write_text(markdown(metrics, figures))
    return jsonable(metrics)


def _dataset_section(
    name: str,
    d: E.EvalData,
    rows: dict[str, E.Prediction],
    runs: list[E.EvalRun],
    model: Any,
    options: E.EvalOptions,
    figure_dir: Path,
) -> tuple[dict[str, Any], list[str]]:
    """Every number and figure of one dataset: Table 1, cosines, error maps, bins, examples."""
    from radarface.plot import error_map_figure

    section: dict[str, Any] = {
        "path": str(d.path),
        "kind": d.kind,
        **d.info,
        "split": d.split,
        "n": len(d.inputs),
        "hash": d.hash,
        "face_model": d.face_model,
        "cached_rows": [label for label, p in rows.items() if p.cached],
        "seconds_per_image": {label: p.seconds for label, p in rows.items()},
    }
    figures: list[str] = []
    vectors, source = _with_baselines(d, rows, runs)
    section["baselines"] = {"mean_from": source, "random_seed": E.RANDOM_BASELINE_SEED}
    scan_errors = None
    if d.scans is not None:
        section["scan_distance"], scan_errors = _scan_section(d, vectors, model)
    if d.truth is not None:
        table = {MEAN: E.table_row(vectors[MEAN], d.truth, model, None)}
        for label, v in vectors.items():
            table[label] = E.table_row(v, d.truth, model, table[MEAN])
        section["table1"] = table
        maps, bins = {}, {}
        for label, v in vectors.items():
            maps[label], per_sample = E.vertex_error_maps(model, v, d.truth)
            bins[label] = E.error_bins(d, v, per_sample)
        section["error_bins"] = bins
        section["mean_vertex_error_mm"] = {k: float(m.mean()) for k, m in maps.items()}
        mean_face = np.zeros(P.N_PARAMS)
        front, side = _faces_front_side(model, mean_face)
        path = figure_dir / f"errors_{name}.png"
        error_map_figure(path, front, side, model.triangles, maps, f"{name}: mean vertex error")
        figures.append(path.name)
    if d.identity is not None:
        section["cosine"], cos_figures = _cosine_section(name, d, rows, options, figure_dir)
        figures += cos_figures
    for k in E.example_indices(len(d.inputs), options.examples):
        path = figure_dir / f"example_{name}_{d.inputs[k].name}.png"
        _example_figure(path, name, d, k, rows, model, scan_errors)
        figures.append(path.name)
    return section, figures


def _with_baselines(
    d: E.EvalData, rows: dict[str, E.Prediction], runs: list[E.EvalRun]
) -> tuple[dict[str, np.ndarray], str]:
    """The (N, 26) vectors of both baselines and every row, and where the mean came from."""
    import torch

    n = len(d.inputs)
    train, source = E.training_vectors(d, runs)
    generator = torch.Generator().manual_seed(E.RANDOM_BASELINE_SEED)
    vectors = {
        MEAN: mean_baseline(torch.from_numpy(train), n).double().numpy(),
        RANDOM: random_baseline(n, generator).double().numpy(),
        **{label: p.vector for label, p in rows.items()},
    }
    return vectors, source


def _scan_section(
    d: E.EvalData, vectors: dict[str, np.ndarray], model: Any
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Face-to-scan distances (mm; radarface.eval.scans) of every row and both baselines, posed
    and after rigid alignment, with their ratios to the mean baseline's; and each row's (N, V)
    vertex distances after alignment."""
    from radarface.eval.scans import TRIM, face_scan_distances

    table: dict[str, Any] = {}
    per_vertex = {}
    for label, v in vectors.items():
        found = face_scan_distances(model, v, d.scans)
        per_vertex[label] = found["aligned_per_vertex"]
        table[label] = {
            "posed_mm": float(found["posed"].mean()),
            "aligned_mm": float(found["aligned"].mean()),
            "posed_per_sample_mm": found["posed"],
            "aligned_per_sample_mm": found["aligned"],
        }
    for row in table.values():
        for key in ("posed_mm", "aligned_mm"):
            row[f"{key}_ratio_to_mean"] = row[key] / table[MEAN][key]
    return {"trim": TRIM, "rows": table}, per_vertex


def _cosine_section(
    name: str,
    d: E.EvalData,
    rows: dict[str, E.Prediction],
    options: E.EvalOptions,
    figure_dir: Path,
) -> tuple[dict[str, Any], list[str]]:
    """Cosine matrices (every definition) of the truth and each row; figures of the default."""
    from radarface.plot import cosine_figure

    vectors = {label: p.vector for label, p in rows.items()}
    if d.truth is not None:
        vectors = {TRUTH: d.truth, **vectors}
    out: dict[str, Any] = {"definition": options.cosine, "rows": {}}
    figures = []
    for i, (label, v) in enumerate(vectors.items()):
        analyses = {
            definition: cosine_analysis(v, d.identity, d.expression, definition)
            for definition in DEFINITIONS
        }
        out["rows"][label] = analyses
        chosen = analyses[options.cosine]
        path = figure_dir / f"cosine_{name}_{i}.png"
        cosine_figure(
            path,
            {
                f"per identity (gap {chosen['identity']['gap']:.2f})": chosen["identity"]["matrix"],
                f"per expression (gap {chosen['expression']['gap']:.2f})": chosen["expression"][
                    "matrix"
                ],
            },
            f"{name}: {label} ({options.cosine} parameters)",
        )
        figures.append(path.name)
    return out, figures


def _example_figure(
    path: Path,
    name: str,
    d: E.EvalData,
    k: int,
    rows: dict[str, E.Prediction],
    model: Any,
    scan_errors: dict[str, np.ndarray] | None = None,
) -> None:
    """Paper Fig. 7-8 for sample k: input, each row's rendering, truth and rows' meshes
    (coloured by the vertex error, or by the distance to the scan after alignment)."""
    import torch

    from radarface.data import decoder_image
    from radarface.plot import examples_figure

    item = d.inputs[k]
    grid = d.grid
    z_range = (float(grid.z_m[0]), float(grid.z_m[-1]))
    observed = decoder_image(torch.from_numpy(item.max_db), torch.from_numpy(item.depth_m), z_range)
    images: dict[str, np.ndarray | None] = {"input (amplitude, 15 dB)": observed[0].numpy()}
    for label, p in rows.items():
        what = f"\n({p.rendered_image}, 15 dB)" if p.rendered_image else ""
        images[f"{label}{what}"] = p.rendered.get(k)
    meshes: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}
    if d.truth is not None:
        meshes["truth"] = (*_faces_front_side(model, d.truth[k]), None)
    for label, p in rows.items():
        errors = None
        if d.truth is not None:
            errors = E.vertex_error_maps(model, p.vector[k : k + 1], d.truth[k : k + 1])[0]
        elif scan_errors is not None:
            errors = scan_errors[label][k]
        meshes[label] = (*_faces_front_side(model, p.vector[k]), errors)
    examples_figure(path, images, meshes, model.triangles, f"{name}: sample {item.name}")


def _runtimes(
    runs: list[E.EvalRun],
    decoder: Any,
    datasets: list[E.EvalData],
    model: Any,
    options: E.EvalOptions,
) -> dict[str, Any]:
    """Seconds per image: encoder, learned renderer, refinements (as measured when computed,
    also when read from the cache) and one physics render, per run, on the device used."""
    out: dict[str, Any] = {"device": options.device, "runs": {}}
    for run in runs:
        seconds = E.learned_renderer_seconds(run, decoder, options.device, options.batch_size)
        out["runs"][run.label] = seconds
    out["physics_renderer"] = E.physics_render_seconds(model, runs[0].run.dataset, options.device)
    return out


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def _table1_markdown(table: dict[str, dict[str, Any]]) -> list[str]:
    """Our Table 1 rows with their ratios to the mean baseline."""
    head = [COLUMN_TITLES[c] for c in TABLE1_COLUMNS] + ["total / mean", "point dist / mean"]
    lines = ["| row | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    for label, row in table.items():
        cells = [_fmt(row[c], 2 if c == "point_dist_mm" else 3) for c in TABLE1_COLUMNS]
        ratio = row.get("ratio_to_mean", {})
        cells += [_fmt(ratio.get("total"), 2), _fmt(ratio.get("point_dist_mm"), 2)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _paper_markdown() -> list[str]:
    """The paper's Table 1 with the same ratio columns."""
    mean = dict(zip(TABLE1_COLUMNS, PAPER_TABLE1[MEAN], strict=True))
    table = {}
    for label, values in PAPER_TABLE1.items():
        row: dict[str, Any] = dict(zip(TABLE1_COLUMNS, values, strict=True))
        row["ratio_to_mean"] = {c: row[c] / mean[c] for c in TABLE1_COLUMNS}
        table[label] = row
    return _table1_markdown(table)


def _bins_markdown(bins: dict[str, dict[str, list[dict[str, float]]]]) -> list[str]:
    """Point distance (mm) and total MSE per bin, one table per factor."""
    lines: list[str] = []
    first = next(iter(bins.values()))
    for factor, cells in first.items():
        heads = [f"{c['low']:.2f}-{c['high']:.2f} (n={c['n']})" for c in cells]
        lines += [
            "",
            f"By {factor.replace('_', ' ')} (point distance mm / total MSE):",
            "",
            "| row | " + " | ".join(heads) + " |",
            "|---|" + "---:|" * len(heads),
        ]
        for label, row_bins in bins.items():
            values = [
                f"{_fmt(c['point_dist_mm'], 2)} / {_fmt(c['total'])}" for c in row_bins[factor]
            ]
            lines.append(f"| {label} | " + " | ".join(values) + " |")
    return lines


def _cosine_markdown(cosine: dict[str, Any]) -> list[str]:
    """Summary numbers of every row's matrices, for the chosen definition."""
    definition = cosine["definition"]
    lines = [
        f"Definition: **{definition}** (docs/evaluate.md); every definition is in metrics.json.",
        "",
        "| row | identity: diagonal | off-diagonal | gap | retrieval "
        "| expression: diagonal | off-diagonal | gap | retrieval |",
        "|---|" + "---:|" * 8,
    ]
    for label, analyses in cosine["rows"].items():
        a = analyses[definition]
        cells = [
            _fmt(a[g][k]) for g in ("identity", "expression")
            for k in ("diagonal", "off_diagonal", "gap", "retrieval")
        ]  # fmt: skip
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _scan_markdown(section: dict[str, Any]) -> list[str]:
    """Face-to-scan distances, posed and aligned, with their ratios to the mean baseline."""
    scan = section["scan_distance"]
    lines = [
        f"Mean over the samples of each face's trimmed distance to its scan (the nearest "
        f"{scan['trim']:.0%} of its vertices; radarface.eval.scans): *posed* as predicted, "
        f"*aligned* after a rigid ICP onto the scan (shape only). Mean baseline: "
        f"{section['baselines']['mean_from']}.",
        "",
        "| row | posed, mm | aligned, mm | posed / mean | aligned / mean |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, row in scan["rows"].items():
        cells = [
            _fmt(row["posed_mm"], 2),
            _fmt(row["aligned_mm"], 2),
            _fmt(row["posed_mm_ratio_to_mean"], 2),
            _fmt(row["aligned_mm_ratio_to_mean"], 2),
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _runtime_markdown(metrics: dict[str, Any]) -> list[str]:
    """Seconds per image per row: encoder, refinements, learned and physics renderer."""
    runtimes = metrics["runtimes_s"]
    lines = [
        f"Device: {runtimes['device']}; physics renderer (one full render of the mean face on "
        f"the runs' array and grid): {runtimes['physics_renderer']:.2f} s.",
        "",
        "| row | encoder, ms | learned renderer, ms (one image / in batches) "
        "| learned refinement, s | geometry refinement, s | physics refinement, s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    seen = set()
    for section in metrics["datasets"].values():
        for label, seconds in section["seconds_per_image"].items():
            if label in seen:
                continue
            seen.add(label)
            run = next(r for r in metrics["runs"] if label == r or label.startswith(r + " + "))
            renderer = runtimes["runs"][run]
            one, batched = (
                renderer.get(k) for k in ("learned_renderer", "learned_renderer_batched")
            )
            cells = [
                _fmt(1e3 * seconds["encoder"], 1),
                "-" if one is None else f"{1e3 * one:.1f} / {1e3 * batched:.1f}",
                _fmt(seconds.get("learned"), 2),
                _fmt(seconds.get("geometry"), 1),
                _fmt(seconds.get("physics"), 1),
            ]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def markdown(metrics: dict[str, Any], figures: dict[str, list[str]]) -> str:
    """report.md: provenance, then per dataset Table 1 (beside the paper's), cosine matrices,
    error maps and bins, examples; then runtimes."""
    m = jsonable(metrics)
    lines = [
        "# radarface evaluation",
        "",
        f"radarface {m['radarface_version']}, torch {m['torch']}, {m['created_utc']}; face model "
        f"{m['face_model']['name']} ({m['face_model']['hash'][:12]}). Every number, with the "
        "hashes of the runs and datasets: [metrics.json](metrics.json).",
        "",
        "| run | stage | input | trained on | hash |",
        "|---|---|---|---|---|",
    ]
    for label, run in m["runs"].items():
        lines.append(
            f"| {label} | {run['stage']} | {run['input']} | {run['trained_on']} "
            f"| {run['hash'][:12]} |"
        )
    for name, section in m["datasets"].items():
        made = (
            f"pose {section['pose']}, seed {section['seed']}"
            if section["kind"] != "captures"
            else f"meshes in {section['mesh_units']}, {section['mesh_frame']} frame"
        )
        lines += [
            "",
            f"## {name}",
            "",
            f"{section['path']}: {section['kind']} set, {made}, {section['n']} samples "
            f"({section['split']}), hash {section['hash'][:12]}."
            + (f" From the cache: {', '.join(section['cached_rows'])}." if section["cached_rows"]
               else ""),
        ]  # fmt: skip
        shown = figures[name]
        if "table1" in section:
            lines += [
                "",
                "### Table 1",
                "",
                f"MSE of the scaled parameters (radarface.eval.metrics), point distance without "
                f"pose. Mean baseline: {section['baselines']['mean_from']}; random baseline: "
                f"the prior, seed {section['baselines']['random_seed']}.",
                "",
                *_table1_markdown(section["table1"]),
                "",
                "The paper's Table 1 (BFM 2019; compare the ratios):",
                "",
                *_paper_markdown(),
            ]
        if "scan_distance" in section:
            lines += ["", "### Distance to the scans", "", *_scan_markdown(section)]
        if "cosine" in section:
            lines += ["", "### Cosine similarity (paper Fig. 5, 6, 9)", ""]
            lines += _cosine_markdown(section["cosine"])
            lines += [""] + [f"![{f}](figures/{f})" for f in shown if f.startswith("cosine_")]
        if "error_bins" in section:
            lines += ["", "### Where the errors are", ""]
            lines += [f"![{f}](figures/{f})" for f in shown if f.startswith("errors_")]
            lines += _bins_markdown(section["error_bins"])
        lines += ["", "### Examples (paper Fig. 7, 8)", ""]
        lines += [f"![{f}](figures/{f})" for f in shown if f.startswith("example_")]
    lines += ["", "## Runtimes per image", "", *_runtime_markdown(m), ""]
    return "\n".join(lines)
