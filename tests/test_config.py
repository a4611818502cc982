"""Every config in conf/ composes and validates; bad settings are one-line errors naming the key."""

import pytest

from pinn.config import CONFIG_DIR, compose_config, validate
from pinn.errors import ConfigError
from pinn.problems import PROBLEMS, build_problem
from pinn.run import plain_config


def options(group):
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


@pytest.mark.parametrize("problem", options("problem"))
@pytest.mark.parametrize("trainer", options("trainer"))
def test_every_config_composes_and_validates(problem, trainer):
    config = plain_config(compose_config([f"problem={problem}", f"trainer={trainer}"]))
    validate(config)
    assert build_problem(config["problem"]).name == problem


def test_every_problem_has_a_yaml_with_its_name():
    assert set(options("problem")) == set(PROBLEMS)
    for name in PROBLEMS:
        assert compose_config([f"problem={name}"]).problem.name == name


@pytest.mark.parametrize("override,key", [
    ("dtype=float16", "dtype"),
    ("device=tpu", "device"),
    ("seed=-1", "seed"),
    ("model.width=0", "model.width"),
    ("model.activation=relu", "model.activation"),
    ("trainer.collocation_points=2", "trainer.collocation_points"),
    ("trainer.phases.solve.optimizer=sgd", "trainer.phases.solve.optimizer"),
    ("trainer.phases.solve.damping=-1", "trainer.phases.solve.damping"),
    ("trainer.phases.warmup.lr=nan", "trainer.phases.warmup.lr"),
    ("+trainer.phases.solve.colour=red", "trainer.phases.solve.colour"),
    ("trainer.phases.warmup.until_placed=3", "trainer.phases.warmup.until_placed"),
    ("+trainer.phases.warmup.min_steps=-1", "trainer.phases.warmup.min_steps"),
    ("+surprise=1", "surprise"),
])
def test_bad_settings_are_named(override, key):
    with pytest.raises(ConfigError) as err:
        validate(plain_config(compose_config([override])))
    message = str(err.value)
    assert key in message and "\n" not in message


def test_a_setting_of_a_phase_the_trainer_lacks_names_the_phases_it_has():
    """A misspelt phase name (`fit` for `solve`) reads as a new phase without stage, optimizer and
    steps: the message lists this trainer's phases."""
    with pytest.raises(ConfigError) as err:
        validate(plain_config(compose_config(["++trainer.phases.fit.geodesic=false"])))
    message = str(err.value)
    assert message.startswith("trainer.phases.fit is not one of this trainer's phases (warmup, ritz, solve)")
    assert "\n" not in message


def test_a_required_setting_removed_from_a_phase_is_named():
    """`~trainer.phases.solve.steps` leaves a phase of the trainer without its step count: the
    message names the missing setting, not a phase the trainer lacks."""
    with pytest.raises(ConfigError) as err:
        validate(plain_config(compose_config(["~trainer.phases.solve.steps"])))
    message = str(err.value)
    assert message.startswith("trainer.phases.solve.steps is missing") and "\n" not in message
