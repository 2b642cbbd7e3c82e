"""`radarface evaluate`: the report's tables and figures, its cache, and bad inputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from radarface import params as P
from radarface.cli import app
from radarface.data import build_config, open_dataset
from radarface.facemodel import MorphableModel, save_model
from radarface.radar import ImagingGrid
from tests.conftest import bump_model
from tests.eval.conftest import fake_dataset, tiny_array


def evaluate(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["evaluate", *map(str, args), "--no-progress"])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def report(eval_setup, bump_model_path, tmp_path_factory) -> tuple[Path, list[str]]:
    """A report of the encoder, without and with learned and geometry refinement, on both
    sets."""
    out = tmp_path_factory.mktemp("report") / "rep"
    args = [
        "--runs", eval_setup["enc"], "--data", eval_setup["val"], "--data", eval_setup["eval"],
        "--out", out, "--refine", "none,learned,geometry", "--decoder", eval_setup["dec"],
        "--steps", "2", "--examples", "2", "--face-model", bump_model_path,
    ]  # fmt: skip
    code, output = evaluate(*args)
    assert code == 0, output
    return out, args


def test_report_holds_every_table_and_figure(report, eval_setup) -> None:
    out, _ = report
    metrics = json.loads((out / "metrics.json").read_text())
    rows = [
        "Encoder (amplitude-depth)",
        "Encoder (amplitude-depth) + learned",
        "Encoder (amplitude-depth) + geometry",
    ]
    assert list(metrics["datasets"]) == ["val", "eval"]
    val, ev = metrics["datasets"]["val"], metrics["datasets"]["eval"]
    assert val["n"] == 4 and ev["n"] == 50 and val["split"] == "val"
    assert list(val["table1"]) == ["Baseline (mean)", "Baseline (random)", *rows]
    assert val["baselines"]["mean_from"].startswith(f"train split of {eval_setup['val']}")
    mean = val["table1"]["Baseline (mean)"]
    assert mean["ratio_to_mean"]["total"] == pytest.approx(1.0)
    for row in val["table1"].values():
        assert {"shape", "expression", "translation", "rotation", "total", "point_dist_mm"} <= set(
            row
        )
        assert row["ratio_to_mean"]["point_dist_mm"] == pytest.approx(
            row["point_dist_mm"] / mean["point_dist_mm"]
        )
    # The refinements start from the encoder's estimate: every row is in the cache.
    cosine = ev["cosine"]["rows"]
    assert list(cosine) == ["Ground truth", *rows]
    truth = cosine["Ground truth"]
    assert np.array(truth["face"]["identity"]["matrix"]).shape == (10, 10)
    assert np.array(truth["face"]["expression"]["matrix"]).shape == (5, 5)
    # The truth shares the shape within an identity: its bare shape diagonal is exactly 1 and
    # every instance finds one of its own identity; the face vectors (with expression) less.
    assert np.allclose(np.diag(truth["bare"]["identity"]["matrix"]), 1.0)
    assert truth["bare"]["identity"]["retrieval"] == 1.0
    assert 0 < truth["face"]["identity"]["diagonal"] < 1
    for section in (val, ev):
        assert set(section["error_bins"]["Baseline (mean)"]) == {"pose", "material", "antenna_size"}
        counts = [c["n"] for c in section["error_bins"][rows[0]]["material"]]
        assert sum(counts) == section["n"]
    renderer = metrics["runtimes_s"]["runs"]["Encoder (amplitude-depth)"]
    assert renderer["learned_renderer"] > 0 and renderer["learned_renderer_batched"] > 0
    assert metrics["runtimes_s"]["physics_renderer"] > 0
    assert metrics["paper_table1"]["Baseline (mean)"]["total"] == 0.80767
    text = (out / "report.md").read_text()
    assert "0.808" in text and "### Table 1" in text and "### Cosine similarity" in text
    linked = re.findall(r"\(figures/([^)]+)\)", text)
    assert {f.name for f in (out / "figures").iterdir()} == set(linked)
    assert sum(f.startswith("cosine_eval_") for f in linked) == 4  # truth and three rows
    assert sum(f.startswith("example_") for f in linked) == 4  # two per dataset
    assert {"errors_val.png", "errors_eval.png"} <= set(linked)


def test_table_matches_the_cached_predictions(report) -> None:
    out, _ = report
    metrics = json.loads((out / "metrics.json").read_text())
    totals = sorted(
        row["total"] for label, row in metrics["datasets"]["val"]["table1"].items()
        if label.startswith("Encoder")
    )  # fmt: skip
    from radarface.data import open_dataset
    from radarface.eval.evaluate import stored_vectors

    group = open_dataset(metrics["datasets"]["val"]["path"])
    truth = stored_vectors(group, group["splits/val"][:])
    recomputed = []
    for cached in (out / "cache").glob("*.npz"):
        vector = np.load(cached)["vector"]
        if len(vector) == len(truth):
            recomputed.append(((vector - truth) ** 2)[:, P.FACE_AND_POSE].mean())
    assert sorted(recomputed) == pytest.approx(totals)


def test_rerun_reuses_the_cache(report) -> None:
    out, args = report
    before = json.loads((out / "metrics.json").read_text())
    code, output = evaluate(*args)
    assert code == 0, output
    after = json.loads((out / "metrics.json").read_text())
    for name, section in after["datasets"].items():
        assert len(section["cached_rows"]) == 3
        assert section["table1"] == before["datasets"][name]["table1"]


def other_model_path(directory: Path) -> Path:
    """The bump model with a wider mean face: another face model (another hash)."""
    m = bump_model()
    other = MorphableModel.build(
        name="other", mean_m=1.1 * m.mean_m, shape_basis_m=m.shape_basis_m,
        expr_basis_m=m.expr_basis_m, triangles=m.triangles, landmarks=m.landmarks,
    )  # fmt: skip
    return save_model(other, directory / "other.npz")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("other-grid", "reads amplitude-depth images of 64 x 64 pixels at 4 mm"),
        ("empty", "nothing to evaluate (its val split is empty)"),
        ("unfinished", "1 of the 2 samples asked for are not rendered yet"),
        ("other-face-model", "was made with face model other"),
        ("unknown-refine", "unknown refinement 'fancy'"),
        ("not-a-report", "is not a radarface evaluate report"),
        ("learned-without-decoder", "--refine learned needs --decoder RUN"),
        ("unknown-device", "unknown device 'gpu'; use cpu or cuda[:N]"),
    ],
)
def test_bad_inputs_are_one_line(eval_setup, bump_model_path, tmp_path, case, message) -> None:
    common = {"array": tiny_array(), "grid": ImagingGrid(n_x=64, n_y=64, pitch_m=4e-3)}
    data = eval_setup["val"]
    if case == "other-grid":
        common["grid"] = ImagingGrid(n_x=32, n_y=32, pitch_m=4e-3)
    if case in ("other-grid", "empty", "unfinished"):
        config = build_config(
            n=4, n_val=0 if case == "empty" else 2, face_model_path=bump_model_path, **common
        )
        data = fake_dataset(tmp_path / "data", config, bump_model_path)
        if case == "unfinished":
            group = open_dataset(data, mode="r+")
            group["done"][group["splits/val"][1]] = 0  # as if its worker had been killed
    if case == "other-face-model":
        other = other_model_path(tmp_path)
        data = fake_dataset(
            tmp_path / "data", build_config(n=4, n_val=2, face_model_path=other, **common), other
        )
    out = tmp_path / "out"
    if case == "not-a-report":
        out.mkdir()
        (out / "keep.txt").write_text("a user's file")
    refine = {"unknown-refine": "none,fancy", "learned-without-decoder": "learned"}.get(
        case, "none"
    )
    args = ["--runs", eval_setup["enc"], "--data", data, "--out", out, "--refine", refine]
    if case == "unknown-device":
        args += ["--device", "gpu"]
    code, output = evaluate(*args, "--face-model", bump_model_path)
    assert code == 1, output
    assert message in output and len(output.strip().splitlines()) == 1
    assert not out.exists() or [p.name for p in out.iterdir()] == ["keep.txt"]


def test_scans_without_parameters_give_examples_only(eval_setup, bump_model_path, tmp_path) -> None:
    from radarface.facemodel import export_mesh

    scans = tmp_path / "scans"
    model = bump_model()
    for name in ("anna", "ben"):
        export_mesh(scans / f"{name}.ply", model.mean_m + [0.0, 0.0, 0.25], model.triangles)
    config = build_config(
        array=tiny_array(), grid=ImagingGrid(n_x=64, n_y=64, pitch_m=4e-3), mesh_dir=scans
    )
    data = fake_dataset(tmp_path / "data", config, bump_model_path)
    out = tmp_path / "out"
    code, output = evaluate(
        "--runs", eval_setup["enc"], "--data", data, "--out", out, "--examples", "2",
        "--face-model", bump_model_path,
    )  # fmt: skip
    assert code == 0, output
    section = json.loads((out / "metrics.json").read_text())["datasets"]["data"]
    assert "table1" not in section and "cosine" not in section and section["n"] == 2
    assert sorted(f.name for f in (out / "figures").iterdir()) == [
        "example_data_000000.png", "example_data_000001.png",
    ]  # fmt: skip


def test_capture_set_gives_scan_distances_and_name_cosines(
    eval_setup, bump_model_path, tmp_path
) -> None:
    """Measured captures (simulated here, written in radarface's HDF5 format) with their scans,
    paired by name: the report has the distance table with both baselines and cosine matrices
    grouped by the names, without a ground-truth row."""
    from radarface.facemodel import export_mesh
    from radarface.radar import write_measurement
    from radarface.render import RenderSettings, face_mesh, simulate_scene

    model = bump_model()
    root = tmp_path / "real"
    settings = RenderSettings(grid=ImagingGrid(n_x=64, n_y=64, pitch_m=4e-3))
    for i, name in enumerate(["anna_neutral", "anna_smile", "ben_neutral", "ben_smile"]):
        vector = np.zeros(P.N_PARAMS)
        vector[0] = -1.0 if name.startswith("anna") else 1.0
        vector[P.EXPRESSION.start] = 0.0 if name.endswith("neutral") else 1.5
        vector[P.TRANSLATION.start] = 0.1 * i  # x: 0 to 1.5 cm
        params = P.SceneParams.from_vector(vector)
        mesh = face_mesh(model, params)
        s = simulate_scene(mesh, tiny_array(), settings)
        write_measurement(root / "captures" / f"{name}.h5", s, tiny_array())
        export_mesh(root / "meshes" / f"{name}.ply", mesh.vertices_m, mesh.triangles)
    out = tmp_path / "out"
    code, output = evaluate(
        "--runs", eval_setup["enc"], "--data", root, "--out", out, "--examples", "1",
        "--face-model", bump_model_path,
    )  # fmt: skip
    assert code == 0, output
    section = json.loads((out / "metrics.json").read_text())["datasets"]["real"]
    assert section["kind"] == "captures" and section["n"] == 4 and "table1" not in section
    rows = section["scan_distance"]["rows"]
    assert set(rows) == {"Baseline (mean)", "Baseline (random)", "Encoder (amplitude-depth)"}
    for row in rows.values():
        assert 0 <= row["aligned_mm"] <= row["posed_mm"] + 1e-9
        assert len(row["posed_per_sample_mm"]) == 4
    assert rows["Baseline (mean)"]["posed_mm_ratio_to_mean"] == 1.0
    cosine = section["cosine"]["rows"]
    assert list(cosine) == ["Encoder (amplitude-depth)"]
    assert np.shape(cosine["Encoder (amplitude-depth)"]["face"]["identity"]["matrix"]) == (2, 2)
    report = (out / "report.md").read_text()
    assert "### Distance to the scans" in report and "captures set" in report
    assert (out / "figures" / "example_real_anna_neutral.png").is_file()


def test_physics_refinement_row_on_a_sparse_array(eval_setup, bump_model_path, tmp_path) -> None:
    """The physics row on the fixtures' 8 x 8-antenna, 8-frequency array (its coarse array,
    4 x 4 antennas, is imaged directly): a rendering in the example, a time per image."""
    out = tmp_path / "out"
    code, output = evaluate(
        "--runs", eval_setup["enc"], "--data", eval_setup["val"], "--out", out,
        "--refine", "physics", "--steps", "1", "--limit", "1", "--examples", "1",
        "--face-model", bump_model_path,
    )  # fmt: skip
    assert code == 0, output
    metrics = json.loads((out / "metrics.json").read_text())
    label = "Encoder (amplitude-depth) + physics"
    assert label in metrics["datasets"]["val"]["table1"]
    assert metrics["datasets"]["val"]["seconds_per_image"][label]["physics"] > 0
    with np.load(next((out / "cache").iterdir())) as cached:
        assert any(k.startswith("rendered_") for k in cached.files)
