"""The shipped reference fits are exactly what scaling.reference builds from LAWS.md constants."""

import json

from scaling.reference import build_reference_fits, load_fit, shipped_fits_dir


def test_shipped_reference_fits_match_the_builder():
    built = build_reference_fits()
    shipped = sorted(p.stem for p in (shipped_fits_dir() / "reference").glob("*.json"))
    assert sorted(name.split("/")[1] for name in built) == shipped
    for name, fit in built.items():
        on_disk = json.loads((shipped_fits_dir() / f"{name}.json").read_text())
        assert on_disk == json.loads(json.dumps(fit.to_dict())), name
        assert load_fit(name).params == fit.params
