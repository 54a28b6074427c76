"""Helpers shared by the musqratt-bench tests (kept out of conftest.py so test modules can import them)."""
import pathlib
import socket

REPO = pathlib.Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
