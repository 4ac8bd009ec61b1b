"""Figures: plain tick labels, PNG and PDF twins, same bytes for the same figure."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from curascale.errors import CurascaleError
from scaling.figure_output import plain_number, plain_ticks, save_png_and_pdf, short_log_ticks


@pytest.mark.parametrize("value, label", [
    (1.4e9, "1.4B"), (7e10, "70B"), (1e6, "1M"), (12_000, "12K"), (3.75, "3.75"), (0.35, "0.35"), (120, "120"),
    (2e-5, "2e-5"), (0, "0"), (2.5e12, "2.5T"), (-3e6, "-3M"), (1e22, "1e22"), (8e-4, "0.0008"), (-2e-4, "-0.0002"), (3.5e21, "3.5e21"), (999e12, "999T"),
])
def test_plain_number(value, label):
    assert plain_number(value) == label


@pytest.mark.parametrize("low, high, ticks", [
    (25e6, 140e6, [3e7, 5e7, 1e8]),  # every digit would give 8 labels: 1-2-3-5 gives 3
    (12.8e6, 1.28e9, [2e7, 5e7, 1e8, 2e8, 5e8, 1e9]),  # 1-2-5 over two decades
    (2e9, 3e11, [3e9, 1e10, 3e10, 1e11, 3e11]),  # 1-2-5 would give 7
    (0.69, 0.96, [0.7, 0.8, 0.9]),  # inside one decade: every digit
    (2.05, 3.7, [2.5, 3.0, 3.5]),  # one digit only: round linear steps
    (1e6, 1e12, None),  # powers of ten are enough
])
def test_short_log_ticks(low, high, ticks):
    found = short_log_ticks(low, high)
    assert found == ticks if ticks is None else np.allclose(found, ticks, rtol=1e-12) and len(found) == len(ticks)


def _loglog_figure():
    figure, axis = plt.subplots()
    tokens = np.geomspace(2e9, 3e11, 20)
    axis.plot(tokens, 1.8 + 400 / tokens**0.3)  # loss spans less than a decade: matplotlib would label minor ticks
    axis.set_xscale("log")
    axis.set_yscale("log")
    return figure, axis


def test_log_axes_get_plain_labels_and_no_minor_labels():
    figure, axis = _loglog_figure()
    plain_ticks(figure)
    figure.canvas.draw()
    labels = [t.get_text() for t in axis.get_xticklabels() + axis.get_yticklabels() if t.get_text()]
    assert labels and not any("$" in text or "10^" in text or "×" in text for text in labels)
    assert "10B" in labels and "100B" in labels
    assert [t.get_text() for t in axis.yaxis.get_minorticklabels() if t.get_text()] == []
    plt.close(figure)


def test_png_and_pdf_twins_with_the_same_bytes_each_time(tmp_path):
    figure, _ = _loglog_figure()
    assert save_png_and_pdf(figure, tmp_path / "fit.png") == tmp_path / "fit.png"
    assert (tmp_path / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "fit.pdf").read_bytes()[:5] == b"%PDF-"
    save_png_and_pdf(figure, tmp_path / "again.pdf")
    assert (tmp_path / "again.pdf").read_bytes() == (tmp_path / "fit.pdf").read_bytes()
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "fit.png").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.pdf", "again.png", "fit.pdf", "fit.png"]  # no temporaries left
    plt.close(figure)


def test_other_suffixes_are_refused(tmp_path):
    figure, _ = _loglog_figure()
    with pytest.raises(CurascaleError, match=r"must end in \.png or \.pdf"):
        save_png_and_pdf(figure, tmp_path / "fit.svg")
    assert list(tmp_path.iterdir()) == []
    plt.close(figure)


def _at_save(draw, read):
    """Run `draw()` and return `read(figure)` as the figure is being saved (after plain_ticks)."""
    captured = {}
    original = plt.Figure.savefig

    def spy(self, *args, **kwargs):
        self.canvas.draw()
        captured.setdefault("value", read(self))
        return original(self, *args, **kwargs)

    plt.Figure.savefig = spy
    try:
        draw()
    finally:
        plt.Figure.savefig = original
    return captured["value"]


def test_plan_bars_keep_their_bucket_names(tmp_path):
    from scaling.plan import plan_data
    from scaling.plots import plot_plan
    from scaling.reference import load_fit

    fit = load_fit("reference/tmars-imagenet-utility")
    plan = plan_data(fit, 128e6)
    labels = _at_save(lambda: plot_plan(plan, fit, tmp_path / "plan.pdf"), lambda f: [t.get_text() for t in f.axes[1].get_xticklabels()])
    assert labels == sorted(c.name for c in plan.candidates)
    assert (tmp_path / "plan.pdf").exists() and (tmp_path / "plan.png").exists()


def test_fit_plot_of_published_constants_on_the_shipped_runs(tmp_path):
    import curascale as cs
    from scaling.plots import plot_fit

    runs = cs.load_dataset("chinchilla")
    fit = cs.load_fit("reference/chinchilla-epoch")  # no objective: it was never fitted here
    legend = _at_save(lambda: plot_fit(fit, runs, tmp_path / "fit.png"), lambda f: [t.get_text() for t in f.axes[0].get_legend().get_texts()])
    assert len(legend) == 6 and all(text.startswith("params ~ ") and text[-1] in "MB" for text in legend)
    assert (tmp_path / "fit.png").exists() and (tmp_path / "fit.pdf").exists()
