"""Small PNG helpers shared by the reports (matplotlib without a display)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or in tests
import matplotlib.pyplot as plt


def png(fig) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def data_url(image: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(image).decode()}"


def markdown_image(image: bytes, alt: str) -> str:
    """A PNG inline as a data URL, the way Dagster's markdown metadata shows images."""
    return f"![{alt}]({data_url(image)})"
