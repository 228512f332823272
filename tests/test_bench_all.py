"""`make bench` (scripts/bench_all.py) in a tiny form: the cheapest benchmark's quick mode becomes rows of the table,
each ratio with its baseline and both measurements, under the machine's name; an unknown name is refused."""

import bench_all


def test_a_quick_benchmark_becomes_rows_of_ratios_against_its_baseline(tmp_path, capsys):
    assert bench_all.main(["--only", "render", "--output", str(tmp_path)]) == 0
    table = (tmp_path / "bench.md").read_text()
    renders = [line for line in table.splitlines() if line.startswith("| MetaWorld rendering | FastRenderer")]
    against_gymnasium = [row for row in renders if "| gymnasium render()" in row]
    assert len(renders) == 3 and len(against_gymnasium) == 2
    assert all("×** faster" in row and "bench_render.py" in row for row in against_gymnasium)
    (supersampled,) = set(renders) - set(against_gymnasium)
    assert "render scale 2, 64px rendered step | FastRenderer, 64px rendered step" in supersampled
    assert "cores" in table.splitlines()[0] and "torch" in table.splitlines()[0]
    assert f"table: {tmp_path / 'bench.md'}" in capsys.readouterr().out


def test_an_unknown_benchmark_is_refused_in_one_line(tmp_path, capsys):
    assert bench_all.main(["--only", "plan,rendr", "--output", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "unknown benchmark rendr; valid: render," in error[0]
    assert not (tmp_path / "bench.md").exists()
