"""How a harness is started: its libFuzzer arguments, seed corpus and dictionary, all in a temp folder.

A harness passes ``sys.argv`` through ``arguments``, which adds what the caller did not choose:

- the seed corpus, written afresh from the vectors into ``<work>/seeds`` and read after any
  corpus folder named on the command line (libFuzzer writes new inputs to the first folder
  named, ``<work>/corpus`` if none is);
- ``-dict=<work>/dictionary`` (``tests.fuzz.seeds.dictionary_words``);
- ``-artifact_prefix=<work>/artifacts/``, so a crashing input is never written into the repository;
- ``-max_len``, the harness's own bound.

``<work>`` is ``$AVRR_FUZZ_DIR/<harness>``, by default under the system's temporary folder. Named
files (not folders) mean "run these inputs once": then nothing is added but the bounds, which is
how a crash is replayed (``python -m tests.fuzz.envelope path/to/crash-...``).

This module imports no project code, so a harness can import it before it starts instrumenting.

Example::

    >>> arguments(["envelope"], name="envelope", seeds=[b"{}"], words=[b"{"], max_len=64)  # doctest: +SKIP
    ['envelope', '-dict=/tmp/avrr-fuzz/envelope/dictionary', ..., '/tmp/avrr-fuzz/envelope/seeds']
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

#: The packages whose code is instrumented for coverage: the project's, and the pure-Python
#: libraries that read what comes from outside (JOSE tokens, canonical JSON).
INSTRUMENTED = ("crypto", "partners", "schemas", "consent", "gateway", "joserfc", "rfc8785")


def work_folder(name: str) -> Path:
    root = os.environ.get("AVRR_FUZZ_DIR") or str(Path(tempfile.gettempdir()) / "avrr-fuzz")
    return Path(root) / name


def dictionary_text(words: Iterable[bytes]) -> str:
    """``words`` in libFuzzer's dictionary format: one quoted word a line, ``\\xNN`` escapes."""
    lines = []
    for word in words:
        quoted = "".join(
            chr(byte) if 0x20 <= byte < 0x7F and byte not in b'"\\' else f"\\x{byte:02x}"
            for byte in word
        )
        lines.append(f'"{quoted}"')
    return "\n".join(lines) + "\n"


def _write_seeds(folder: Path, seeds: Iterable[bytes]) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for seed in seeds:
        (folder / f"seed-{hashlib.sha1(seed).hexdigest()}").write_bytes(seed)  # noqa: S324


def arguments(
    argv: Sequence[str],
    *,
    name: str,
    seeds: Iterable[bytes],
    words: Iterable[bytes],
    max_len: int,
) -> list[str]:
    """libFuzzer's arguments for one harness: ``argv`` and what it leaves unset (see above)."""
    program, options = argv[0], list(argv[1:])
    flags = [option for option in options if option.startswith("-")]
    paths = [option for option in options if not option.startswith("-")]
    chosen = {flag.split("=", 1)[0] for flag in flags}
    added = [] if "-max_len" in chosen else [f"-max_len={max_len}"]
    if any(Path(path).is_file() for path in paths):
        return [program, *flags, *added, *paths]
    work = work_folder(name)
    _write_seeds(work / "seeds", seeds)
    if "-dict" not in chosen:
        (work / "dictionary").write_text(dictionary_text(words), encoding="ascii")
        added.append(f"-dict={work / 'dictionary'}")
    if "-artifact_prefix" not in chosen:
        (work / "artifacts").mkdir(exist_ok=True)
        added.append(f"-artifact_prefix={work / 'artifacts'}/")
    if not paths:
        (work / "corpus").mkdir(exist_ok=True)
        paths = [str(work / "corpus")]
    return [program, *flags, *added, *paths, str(work / "seeds")]
