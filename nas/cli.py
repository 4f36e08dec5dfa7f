"""What the command lines share: the ``--help`` layout and the ``--device`` option.

Every ``python -m nas.*`` command and every ``benchmarks/*.py`` script builds its parser with
:class:`HelpFormatter`, so that each option's default is printed once, as ``(default: X)``: by the
formatter when the help text does not state it, by the help text itself when the default needs words
(``None`` that means "the study's", "torch's choice"...). Descriptions taken from a module docstring go
through :func:`description`, which drops the reStructuredText markup a terminal would print as is.
"""

from __future__ import annotations

import argparse
import re
import textwrap

__all__ = ["DATA_ROOT_HELP", "DEVICE_HELP", "STORAGE_HELP", "STUDY_HELP", "STUDY_NAME_HELP", "HelpFormatter",
           "dataset_help", "description", "device_error", "plain"]

# the options several commands share, worded once
DEVICE_HELP = "where to train: cpu, cuda, cuda:N (the N-th GPU, from 0) or auto (cuda when there is one, else cpu)"
DATA_ROOT_HELP = ("the folder of <dataset>.npz files (default: $NAS_DATA, else ~/.cache/nas/data, or "
                  "$XDG_CACHE_HOME/nas/data when that is set)")
# how nas.report and nas.export name the study they read (nas.study.open_study)
STUDY_HELP = ("a study folder (studies/<name>/, holding study.db), its study.db, or a study name under studies/; "
              "leave it out with --storage")
STORAGE_HELP = ("Optuna storage URL (sqlite:///PATH.db, postgresql://USER:PASSWORD@HOST/DB) of a study outside a "
                "study folder")
STUDY_NAME_HELP = "the study's name in --storage (needed when it holds several)"

_MARKUP = (
    (re.compile(r":[a-z]+:`~?([^`]+)`"), r"\1"),  # :func:`nas.build`, :class:`~nas.Genome`
    (re.compile(r"``([^`]+)``"), r"\1"),  # ``--fidelity none``
    (re.compile(r"\*\*([^*]+)\*\*"), r"\1"),  # **bold**
)


def dataset_help(default: str) -> str:
    """The help of ``--dataset``, whose default each command words for itself."""
    from .data import DATASETS

    return (f"{', '.join(DATASETS)}, npz:PATH (a .npz file of x_train, y_train, x_test, y_test) or folder:PATH "
            f"(train/ and test/ ImageFolder trees); digits is scikit-learn's 8×8 digits, offline (default: {default})")


def plain(text: str) -> str:
    """``text`` without the reStructuredText markup of the docstrings (roles, literals, bold)."""
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return text


def description(doc: str | None) -> str:
    """A parser's description from a module docstring: its first paragraph, as plain text on one line
    (the formatter wraps it to the terminal)."""
    return " ".join(plain((doc or "").strip().split("\n\n")[0]).split())


class HelpFormatter(argparse.HelpFormatter):
    """``--help`` as every command prints it.

    * An option's help gets ``(default: X)`` appended, unless the help already says "default" (the
      default then needs words) or the default says nothing: ``None`` (the option is off, or its
      default is explained), ``False`` (a flag) or ``SUPPRESS``.
    * Description and epilog are wrapped paragraph by paragraph (a paragraph is a run of lines that
      start at the margin); an indented line (an example command, a list item) is printed as written.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or not _tells(action.default):
            return text
        if not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text  # a required positional has no default
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        paragraph: list[str] = []

        def flush() -> None:
            if paragraph:
                out.extend(textwrap.wrap(" ".join(paragraph), width, initial_indent=indent, subsequent_indent=indent))
                paragraph.clear()

        for line in text.splitlines():
            stripped = line.strip()
            if not stripped:
                flush()
                out.append("")
            elif line[0].isspace():
                flush()
                out.append(indent + line.rstrip())
            else:
                paragraph.append(stripped)
        flush()
        return "\n".join(out)


def _tells(default: object) -> bool:
    """Whether ``(default: X)`` says something about this default."""
    return not (default is None or default is False or default is argparse.SUPPRESS or default == "" or default == [])


def device_error(device: str) -> str | None:
    """Why ``--device DEVICE`` cannot be used on this machine, naming the value and the fix; ``None`` when it can."""
    if device not in ("cpu", "cuda", "auto") and not re.fullmatch(r"cuda:\d+", device):
        return f"--device {device!r} is not one of cpu, cuda, cuda:N (the N-th GPU, from 0), auto"
    if device.startswith("cuda"):
        import torch

        available = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not available:
            return (f"--device {device}: no CUDA device is available here (torch {torch.__version__}); use "
                    "--device cpu or auto")
        if ":" in device and int(device.split(":")[1]) >= available:
            return f"--device {device}: this machine has {available} CUDA device(s), cuda:0 to cuda:{available - 1}"
    return None
