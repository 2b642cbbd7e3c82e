"""Parameter vector layout and rendering-parameter scaling."""

import numpy as np
import pytest
import torch

from radarface import params as P


def test_layout_covers_26_values_once() -> None:
    covered = sorted(i for s in P.GROUPS.values() for i in range(P.N_PARAMS)[s])
    assert covered == list(range(P.N_PARAMS))
    assert [P.DYNAMIC_RANGE, P.MATERIAL, P.ANTENNA_SIZE] == list(range(P.N_PARAMS)[P.RENDERING])


def test_rendering_scaling_round_trip() -> None:
    phys = torch.tensor([[15.0, 0.0, 0.2], [30.0, 1.0, 0.3], [22.5, 0.5, 0.25]])
    scaled = P.scale_rendering(phys)
    assert torch.allclose(scaled, torch.tensor([[-1.0] * 3, [1.0] * 3, [0.0] * 3]), atol=1e-6)
    assert torch.allclose(P.unscale_rendering(scaled), phys, atol=1e-5)
    assert P.DECODER_DYNAMIC_RANGE_SCALED == -1.0


def test_prior_ranges() -> None:
    x = P.sample_prior(4000, torch.Generator().manual_seed(0))
    assert x.shape == (4000, 26)
    assert abs(x[:, P.SHAPE].std().item() - 1) < 0.05
    assert x[:, P.POSE].abs().max() <= 1 and x[:, P.RENDERING].abs().max() <= 1


def _scene(batch: tuple[int, ...] = ()) -> P.SceneParams:
    rng = np.random.default_rng(0)
    return P.SceneParams(
        shape=rng.standard_normal((*batch, 12)),
        expr=rng.standard_normal((*batch, 5)),
        translation_m=np.concatenate(
            [rng.uniform(-0.05, 0.05, (*batch, 2)), np.zeros((*batch, 1))], -1
        ),
        rotation_rad=rng.uniform(-0.08, 0.08, (*batch, 3)),
        material=rng.uniform(0, 1, batch),
        antenna_size=rng.uniform(0.2, 0.3, batch),
        dynamic_range_db=rng.uniform(15, 30, batch),
    )


@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
def test_vector_round_trip_numpy_and_torch(batch: tuple[int, ...]) -> None:
    scene = _scene(batch)
    vector = scene.to_vector()
    assert vector.shape == (*batch, P.N_PARAMS)
    # 12 shape coefficients keep their leading 10; 5 expression ones are padded with zeros.
    np.testing.assert_array_equal(vector[..., P.SHAPE], scene.shape[..., :10])
    np.testing.assert_array_equal(vector[..., 15:17], 0.0)
    back = P.SceneParams.from_vector(vector)
    np.testing.assert_allclose(back.translation_m, scene.translation_m, atol=1e-12)
    np.testing.assert_allclose(back.rotation_rad, scene.rotation_rad, atol=1e-12)
    for name in ("material", "antenna_size", "dynamic_range_db"):
        np.testing.assert_allclose(getattr(back, name), getattr(scene, name), atol=1e-12)
    as_torch = P.SceneParams(
        **{k: torch.as_tensor(np.asarray(v)) for k, v in vars(scene).items()}
    ).to_vector()
    assert isinstance(as_torch, torch.Tensor)
    np.testing.assert_allclose(as_torch.numpy(), vector, atol=1e-12)


def test_scalar_rendering_fields_broadcast_and_index() -> None:
    scene = P.SceneParams(np.zeros((3, 10)), np.zeros((3, 7)), np.zeros((3, 3)), np.zeros((3, 3)))
    assert len(scene) == 3 and scene.batch_shape == (3,)
    vector = scene.to_vector()
    np.testing.assert_allclose(vector[:, P.MATERIAL], 0.0)  # material 0.5 is the range's middle
    one = scene[1]
    assert one.batch_shape == () and float(one.dynamic_range_db) == P.VALIDATION_DYNAMIC_RANGE_DB
    stacked = P.SceneParams.stack([scene[0], scene[2]])
    assert stacked.batch_shape == (2,)
    with pytest.raises(ValueError, match="26 values"):
        P.SceneParams.from_vector(np.zeros(25))
    with pytest.raises(TypeError, match="no length"):
        len(one)


def test_rendering_draws_are_their_own_stream() -> None:
    material, antenna = P.sample_rendering(5, 3)
    assert 0 <= material <= 1 and 0.2 <= antenna <= 0.3
    assert P.sample_rendering(5, 3) == (material, antenna) != P.sample_rendering(5, 4)
