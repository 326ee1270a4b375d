"""Small PNG helpers shared by the reports: matplotlib's figures without pyplot or a display.

A `Figure` made directly has no pyplot registry to close and needs no backend, and matplotlib
is imported only when a report draws: importing it costs about half a second, which every
process that loads the pipeline's definitions (each run, code server and CLI) would pay.
"""

from __future__ import annotations

import base64
import io


def subplots(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (5, 4)):
    """(figure, axes) as `pyplot.subplots` gives them."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols)


def png(fig) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def data_url(image: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(image).decode()}"


def markdown_image(image: bytes, alt: str) -> str:
    """A PNG inline as a data URL, the way Dagster's markdown metadata shows images."""
    return f"![{alt}]({data_url(image)})"
