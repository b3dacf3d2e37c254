"""The one owner of a job's life: every transition between submit and purge."""

from __future__ import annotations
