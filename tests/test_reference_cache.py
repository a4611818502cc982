"""The on-disk reference cache: a second run with the same physical parameters loads its reference
(the same numbers), any physical change or `reference.cache=false` solves again, inverse runs that
differ only in their observations share one entry, and concurrent writers leave a valid entry."""

import multiprocessing
import pickle
import time

import numpy as np
import pytest

from pinn.config import compose_config
from pinn.errors import ConfigError
from pinn.problems import build_problem
from pinn.reference.cache import ReferenceCache, code_version, entry_key, solved_once
from pinn.run import plain_config, run


def short(problem, *overrides):
    config = plain_config(compose_config([f"problem={problem}", "trainer.progress=none", "figures=false", *overrides]))
    for phase in config["trainer"]["phases"].values():
        phase["steps"], phase["extra_steps_per_state"] = 2, 0
    config["trainer"]["refine"] = {"rounds": 0}
    return config


def test_second_run_loads_the_same_reference(tmp_path):
    cache = f"reference.cache_dir={tmp_path / 'cache'}"
    first = run(short("finite_well", "problem.V0=13.5", cache), out_dir=tmp_path / "a")
    second = run(short("finite_well", "problem.V0=13.5", cache), out_dir=tmp_path / "b")
    assert first["reference"]["source"] == "solved" and second["reference"]["source"] == "cache"
    assert second["reference"]["key"] == first["reference"]["key"]
    assert second["reference"]["solve_seconds"] == first["reference"]["solve_seconds"]
    assert second["reference_eigenvalues"] == first["reference_eigenvalues"]
    assert second["eigenvalues"] == first["eigenvalues"]  # same seed, same reference: the same run
    other = run(short("finite_well", "problem.V0=13.6", cache), out_dir=tmp_path / "c")
    assert other["reference"]["source"] == "solved" and other["reference"]["key"] != first["reference"]["key"]
    assert other["reference_eigenvalues"][0] > first["reference_eigenvalues"][0]  # higher walls, higher level
    off = run(short("finite_well", "problem.V0=13.5", cache, "reference.cache=false"), out_dir=tmp_path / "d")
    assert off["reference"]["source"] == "solved, not cached" and off["reference"]["key"] is None
    assert off["reference_eigenvalues"] == first["reference_eigenvalues"]


def test_loaded_reference_equals_a_fresh_solve(tmp_path):
    """Every array of the cached reference is the one a fresh solve gives."""
    cache = ReferenceCache(tmp_path)
    problem = build_problem({"name": "harmonic", "omega": 1.7, "L": 6.0, "n_states": 2})
    stored = problem.reference(cache)
    assert problem.reference_lookup.source == "solved"
    again = build_problem({"name": "harmonic", "omega": 1.7, "L": 6.0, "n_states": 2})
    loaded = again.reference(cache)
    assert again.reference_lookup.source == "cache"
    fresh = build_problem({"name": "harmonic", "omega": 1.7, "L": 6.0, "n_states": 2}).reference()
    x = np.linspace(-6.0, 6.0, 101)
    np.testing.assert_array_equal(loaded.eigenvalues, fresh.eigenvalues)
    np.testing.assert_array_equal(loaded.eigenvalues, stored.eigenvalues)
    for f, g in zip(loaded.eigenfunctions, fresh.eigenfunctions):
        np.testing.assert_array_equal(f(x), g(x))


def test_analytic_references_round_trip(tmp_path):
    """The exact eigenfunctions (infinite and step wells) survive the cache."""
    cache = ReferenceCache(tmp_path)
    for params in ({"name": "infinite_well", "L": 2.0, "n_states": 2},
                   {"name": "finite_well", "V0": 7.0, "half_width": 0.8, "L": 3.0, "n_states": 3}):
        build_problem(params).reference(cache)
        loaded = build_problem(params)
        ref = loaded.reference(cache)
        assert loaded.reference_lookup.source == "cache" and ref.source == "analytic"
        fresh = build_problem(params).reference()
        x = np.linspace(*loaded.domain, 57)
        for f, g in zip(ref.eigenfunctions, fresh.eigenfunctions):
            np.testing.assert_array_equal(f(x), g(x))


def test_observation_settings_share_the_reference(tmp_path):
    """Noise draws of one inverse problem share the forward reference; a physical change does not."""
    cache = ReferenceCache(tmp_path)
    base = {"name": "flame_fpp_inverse", "noise": 0.02, "noise_seed": 0}
    first = build_problem(base)
    first.reference(cache)
    draw = build_problem({**base, "noise_seed": 5, "noise": 0.01, "initial_conductivity": 0.03})
    draw.reference(cache)
    assert draw.reference_lookup.source == "cache"
    assert not np.array_equal(draw.data["T"], first.data["T"])  # its own observations, drawn from the shared reference
    hotter = build_problem({**base, "T_in": 310.0})
    assert hotter.reference_parameters() != first.reference_parameters()
    forward = build_problem({"name": "flame_fpp"})  # the same physics, solved the same way: the same entry
    forward.reference(cache)
    assert forward.reference_lookup.source == "cache" and forward.reference_lookup.key == draw.reference_lookup.key


def test_key_follows_parameters_and_code(tmp_path):
    source = tmp_path / "reference.py"
    source.write_text("A = 1\n")
    version = code_version([source])
    key = entry_key({"name": "p", "a": 1.0}, version)
    assert entry_key({"a": 1.0, "name": "p"}, version) == key and key.startswith("p-")
    assert entry_key({"name": "p", "a": 1.0000001}, version) != key
    assert entry_key({"name": "q", "a": 1.0}, version) != key
    source.write_text("A = 2\n")
    assert entry_key({"name": "p", "a": 1.0}, code_version([source])) != key


def test_unreadable_entry_is_solved_again(tmp_path):
    cache = ReferenceCache(tmp_path)
    cache.path("k").write_bytes(b"not a pickle")
    value, lookup = cache.obtain("k", lambda: {"E": 1.5})
    assert value == {"E": 1.5} and lookup.source == "solved"
    assert cache.load("k")[0] == {"E": 1.5}


def test_unwritable_cache_still_runs(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    value, lookup = ReferenceCache(blocker / "cache").obtain("k", lambda: 3.0)
    assert value == 3.0 and lookup.source == "solved, not cached" and "Error" in lookup.note


def test_an_entry_records_the_solve_a_per_process_memo_replayed(tmp_path):
    calls = []

    @solved_once
    def slow(a, b=2.0):
        calls.append(a)
        time.sleep(0.2)
        return a * b

    assert slow(3.0) == 6.0  # solved once in this process for another purpose
    value, lookup = ReferenceCache(tmp_path).obtain("k", lambda: slow(3.0, b=2.0))
    assert value == 6.0 and calls == [3.0]
    assert lookup.source == "solved" and lookup.solve_seconds >= 0.2
    assert ReferenceCache(tmp_path).load("k")[1] >= 0.2


def _write_many(directory, tag, rounds):
    cache = ReferenceCache(directory)
    payload = np.full(200_000, float(tag))
    for _ in range(rounds):
        cache.store("shared", {"tag": tag, "payload": payload}, 1.0)


def _slow_solve(directory, tag):
    """A solve that takes a second and leaves a file per call."""
    (directory / f"solved-by-{tag}").write_text("")
    time.sleep(1.0)
    return 42.0


def _obtain(directory, tag, results, start):
    start.wait(timeout=120)  # both processes imported, then both ask at once
    value, lookup = ReferenceCache(directory / "cache").obtain("flame", lambda: _slow_solve(directory, tag))
    results.put((tag, value, lookup.source))


def test_processes_missing_one_key_together_solve_it_once(tmp_path):
    """Two sweep jobs that start together on the same parameters: one solves, the other waits for
    its entry and loads it."""
    context = multiprocessing.get_context("spawn")
    results, start = context.Queue(), context.Barrier(2)
    jobs = [context.Process(target=_obtain, args=(tmp_path, tag, results, start)) for tag in (1, 2)]
    for job in jobs:
        job.start()
    outcomes = sorted(results.get(timeout=120) for _ in jobs)
    for job in jobs:
        job.join()
        assert job.exitcode == 0
    assert len(list(tmp_path.glob("solved-by-*"))) == 1
    assert [value for _, value, _ in outcomes] == [42.0, 42.0]
    assert sorted(source for _, _, source in outcomes) == ["cache", "solved"]


def test_concurrent_writers_leave_a_valid_entry(tmp_path):
    """Two processes rewrite one key while this one reads it: every read is a whole entry."""
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_many, args=(tmp_path, tag, 40)) for tag in (1, 2)]
    for w in writers:
        w.start()
    cache, reads = ReferenceCache(tmp_path), 0
    while any(w.is_alive() for w in writers):
        found = cache.load("shared")
        if found is not None:
            value, _ = found
            assert value["tag"] in (1, 2) and np.all(value["payload"] == value["tag"])
            reads += 1
    for w in writers:
        w.join()
        assert w.exitcode == 0
    value, _ = cache.load("shared")
    assert value["tag"] in (1, 2) and np.all(value["payload"] == value["tag"])
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    assert reads > 0


@pytest.mark.parametrize("setting, message", [("reference.cache=maybe", "reference.cache"),
                                              ("reference.colour=1", "reference.colour"),
                                              ("reference.cache_dir=3", "reference.cache_dir")])
def test_bad_cache_settings_are_config_errors(setting, message, tmp_path):
    config = short("finite_well", setting) if "colour" not in setting else short("finite_well", f"+{setting}")
    with pytest.raises(ConfigError, match=message):
        run(config, out_dir=tmp_path)


def test_entries_pickle_every_value_they_hold(tmp_path):
    cache = ReferenceCache(tmp_path)
    cache.store("k", {"array": np.arange(3.0)}, 2.0)
    with open(cache.path("k"), "rb") as file:
        entry = pickle.load(file)
    assert entry["solve_seconds"] == 2.0 and list(entry["value"]["array"]) == [0.0, 1.0, 2.0]
