"""Build the portal's web fonts from Debian's Noto fonts: ``make fonts``.

The pages must render every language the portal offers (English, French, Spanish, Arabic,
Pashto) with a font the node itself serves, never one from a CDN and never whatever the phone
happens to have. This script takes Noto Sans and Noto Sans Arabic (SIL Open Font License 1.1)
from Debian's ``fonts-noto-core`` package, keeps only the characters the languages need (with
every layout feature, so Arabic letters still join), and writes them as WOFF2 beside the
stylesheet, with the licence. The outputs are committed, so a node needs neither Debian nor this
script to serve them.

    python scripts/portal_fonts.py [--source /usr/share/fonts/truetype/noto]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from fontTools import subset

OUT = Path(__file__).resolve().parent.parent / "gateway/surfaces/portal/static/fonts"
SOURCE = Path("/usr/share/fonts/truetype/noto")
LICENCE = Path("/usr/share/doc/fonts-noto-core/copyright")

#: Latin for English, French and Spanish, with the punctuation the pages use.
LATIN = "U+0020-007E,U+00A0-017F,U+0192,U+02C6-02DC,U+2000-206F,U+20AC,U+2122,U+2190-2193,U+2212,U+25CF,U+FEFF,U+FFFD"
#: Arabic, with the letters Pashto adds, the presentation forms, and the marks of direction.
ARABIC = "U+0600-06FF,U+0750-077F,U+08A0-08FF,U+FB50-FDFF,U+FE70-FEFF,U+200C-200F,U+2010-2011,U+2066-2069"

FONTS = {
    "avrr-sans-regular.woff2": ("NotoSans-Regular.ttf", LATIN),
    "avrr-sans-bold.woff2": ("NotoSans-Bold.ttf", LATIN),
    "avrr-arabic-regular.woff2": ("NotoSansArabic-Regular.ttf", ARABIC),
    "avrr-arabic-bold.woff2": ("NotoSansArabic-Bold.ttf", ARABIC),
}


def build(source: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (ttf, ranges) in FONTS.items():
        path = source / ttf
        if not path.exists():
            raise SystemExit(f"{path} is missing: apt-get install fonts-noto-core")
        subset.main(
            [
                str(path),
                f"--unicodes={ranges}",
                "--layout-features=*",
                "--flavor=woff2",
                "--no-hinting",
                "--desubroutinize",
                f"--output-file={OUT / name}",
            ]
        )
        print(f"{name}: {(OUT / name).stat().st_size} bytes")
    if LICENCE.exists():
        shutil.copyfile(LICENCE, OUT / "LICENSE-fonts-noto-core.txt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    build(parser.parse_args().source)


if __name__ == "__main__":
    main()
