from labcore.plots import plot_bars, plot_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_curves_writes_png(tmp_path):
    path = plot_curves(
        tmp_path / "plots" / "loss.png",
        {"train": ([1, 2, 3], [3.0, 2.0, 1.5]), "val": ([1, 2, 3], [3.2, 2.4, 2.0])},
        xlabel="step",
        ylabel="loss",
        logy=True,
    )
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in path.parent.iterdir()] == ["loss.png"]


def test_plot_bars_writes_png(tmp_path):
    path = plot_bars(tmp_path / "war.png", {"DFEW": 0.77, "MAFW": 0.58}, errors={"DFEW": 0.01})
    assert path.read_bytes().startswith(PNG_MAGIC)
