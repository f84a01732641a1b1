"""The recorded pool stats and events in tests/data, and a text capture of a running Textual app."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.app import App

from nutx_cli.tui.model import DashboardModel
from nutx_cli.tui.stats import parse_event, parse_stats

DATA = Path(__file__).resolve().parent.parent / "data"
RECORDED_NOW = 1_800_000_000.0
RECORDED_URL = "http://127.0.0.1:3340"


def recorded_stats() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / "pool_stats.json").read_text())
    return doc


def recorded_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / "pool_events.jsonl").read_text().splitlines() if line]


def recorded_model() -> DashboardModel:
    """A model that has seen the recorded stats, then the recorded events, on a live connection."""
    model = DashboardModel(RECORDED_URL)
    model.set_connection(True, f"connected to {RECORDED_URL}")
    model.set_live(True)
    model.apply_stats(parse_stats(recorded_stats()), RECORDED_NOW)
    for doc in recorded_events():
        event = parse_event(doc)
        assert event is not None
        model.apply_event(event)
    return model


def screen_text(app: App[Any]) -> str:
    """What the terminal shows, as plain text (for assertions and reports)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()
