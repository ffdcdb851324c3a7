import pandas as pd
import pytest

from landmark_datasets.core.cache import Cache
from landmark_datasets.report import figures


def _balance(rows=(3, 5)):
    return pd.DataFrame({"group": ["hands/rock", "hands/paper"], "split": "train",
                         "rows": list(rows)})


def test_the_digest_of_a_figures_inputs_sees_every_cell_name_type_and_order():
    base = {"hands": _balance(), "faces": _balance((1, 1))}
    same = {"hands": _balance(), "faces": _balance((1, 1))}
    assert figures.digest((72, base)) == figures.digest((72, same))
    changed = [
        {"hands": _balance((3, 6)), "faces": _balance((1, 1))},
        {"hands": _balance().rename(columns={"rows": "n"}), "faces": _balance((1, 1))},
        {"hands": _balance().astype({"rows": "float64"}), "faces": _balance((1, 1))},
        {"faces": _balance((1, 1)), "hands": _balance()},  # panels in another order
    ]
    for other in changed:
        assert figures.digest((72, other)) != figures.digest((72, base))
    assert figures.digest((100, base)) != figures.digest((72, base))


def test_a_remembered_figure_is_the_drawn_one_byte_for_byte(tmp_path, monkeypatch):
    """Drawn once, a figure comes back from the cache with the same bytes and without
    drawing; other inputs draw it again."""
    monkeypatch.setattr(figures, "FIGURES", tmp_path / "figures")
    cache = Cache(tmp_path / "cache")
    calls = []

    def draw(df):
        calls.append(1)
        return figures.plot_bars(df, "group", "split", "rows", "Rows", "class_balance", 72)

    png = tmp_path / "figures" / "class_balance.png"  # not the figure's key: drawn, it says
    assert figures.remembered(cache, "balance", (72, _balance()),
                              lambda: draw(_balance())) == "figures/class_balance.png"
    drawn = png.read_bytes()
    png.unlink()
    assert figures.remembered(cache, "balance", (72, _balance()),
                              lambda: pytest.fail("drawn again")) == "figures/class_balance.png"
    assert png.read_bytes() == drawn
    assert len(calls) == 1
    figures.remembered(cache, "balance", (72, _balance((4, 5))), lambda: draw(_balance((4, 5))))
    assert len(calls) == 2
    assert png.read_bytes() != drawn
    figures.remembered(Cache(None), "balance", (72, _balance()), lambda: draw(_balance()))
    assert len(calls) == 3  # a cache that is off draws every time
    assert png.read_bytes() == drawn
